"""The contract suite: the same tests on FakeCluster and on the kwok tier's API server."""
