"""playbooks/diff.yml on kwok: the live fields that differ from each release's last deployed
revision, for a fleet in one run: one summary line per release, and a status of its own only for
a host whose release drifted, could not be read or has nothing to compare. A hand edit is
reported, a redeploy puts it back and the report is clean again; a release without history, a
namespace that is gone and an unreachable cluster each get one line while the others are still
reported."""

from __future__ import annotations

from conftest import HAND_IMAGE, Cluster, edit_image_by_hand, flat, make_namespace

DEPLOYMENT = "exchange-router-deployment"


def test_a_fleet_s_drift_is_reported_per_release_and_a_redeploy_clears_it(
    cluster: Cluster, namespace: str
) -> None:
    values = {"exchange_router_namespace": namespace}
    assert cluster.deploy(values).ok
    clean = cluster.playbook("diff", values)
    assert clean.ok and "changed=0" in clean.output, clean.output  # the control
    # one line per release, after its host's name: Ansible's YAML callback folds long lines
    assert f"exchange-router in namespace {namespace}: no drift from revision 1" in flat(
        clean.output
    )

    edit_image_by_hand(cluster, namespace)
    never_deployed = make_namespace(cluster)
    cluster.core.delete_namespace(gone := make_namespace(cluster))
    hosts = {
        "drifted": {"exchange_router_namespace": namespace},
        "new": {"exchange_router_namespace": never_deployed},
        "gone": {"exchange_router_namespace": gone},
        "unreachable": {
            "exchange_router_namespace": namespace,
            "exchange_router_host": "https://127.0.0.1:1",
        },
    }
    fleet = cluster.playbook("diff", {}, "-i", str(cluster.inventory(hosts)))
    out = fleet.output
    assert f"exchange-router in namespace {namespace}: 1 field drifted from revision 1" in flat(out)
    assert "spec.template.spec.containers[0].image" in out and f'"{HAND_IMAGE}" live' in flat(out)
    for ns in (never_deployed, gone):
        assert f"exchange-router in namespace {ns}: no deployed revision in its history" in flat(
            out
        )
    # the fleet summary: one line per release, its host's name first, in the inventory's order
    items = [line.strip()[2:].strip("'") for line in out.splitlines() if line.strip()[:2] == "- "]
    summary = [item for item in items if ": " in item and item.split(": ", 1)[0] in hosts]
    assert [item.split(": ", 1)[0] for item in summary] == list(hosts), out
    assert summary[0].startswith(f"drifted: exchange-router in namespace {namespace}: 1 field"), out
    assert summary[3].startswith("unreachable: Cannot reach the API server"), out
    recap = {
        line.split(":")[0].strip(): line for line in out.split("PLAY RECAP", 1)[1].splitlines()
    }
    assert "changed=1" in recap["drifted"] and "failed=0" in recap["drifted"], out
    assert "changed=0" in recap["new"] and "failed=0" in recap["gone"], out
    assert "failed=1" in recap["unreachable"], out
    # the unreachable cluster's own line says so (no HTTP status: no "0 " before it)
    assert (
        "msg: 'Cannot reach the API server: HTTPSConnectionPool(host=''127.0.0.1'', port=1)" in out
    )
    image = cluster.apps.read_namespaced_deployment(DEPLOYMENT, namespace)
    assert image.spec.template.spec.containers[0].image == HAND_IMAGE  # diff writes nothing

    assert cluster.deploy(values).ok  # the release puts its field back
    again = cluster.playbook("diff", values)
    assert again.ok and "no drift from revision" in flat(again.output), again.output
    cluster.core.delete_namespace(never_deployed)


def test_bad_input_to_diff_is_refused_by_name_and_nothing_is_written(
    cluster: Cluster, namespace: str
) -> None:
    """diff.yml has no argument-spec pass (tasks/diff.yml says why): the engine names a value that
    does not convert, and a state that would write is refused by the engine task before it
    templates or requests anything."""
    values = {"exchange_router_namespace": namespace}
    assert cluster.deploy(values).ok
    assert cluster.playbook("diff", values).ok  # the control: the same call, valid, reports

    bad = cluster.playbook("diff", dict(values, exchange_router_validate_certs="maybe"))
    assert not bad.ok
    assert 'exchange_router_validate_certs: "maybe" is not a boolean' in bad.output, bad.output
    assert "Traceback" not in bad.output, bad.output

    writer = cluster.playbook(
        "diff",
        dict(values, exchange_router_image="x/other:1"),
        "-e",
        "exchange_router_state=present",
    )
    assert not writer.ok
    assert 'exchange_router_state must be diff, not "present"' in writer.output, writer.output
    deployment = cluster.apps.read_namespaced_deployment(DEPLOYMENT, namespace)
    assert deployment.spec.template.spec.containers[0].image != "x/other:1"  # nothing written
