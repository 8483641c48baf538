"""The connection option table (connection_options.py) is kubernetes.core.k8s's: every option its
AUTH_ARG_SPEC has (AUTH_ARG_MAP's and the impersonation headers), by both of its names, with the
same reading of K8S_AUTH_* variables, and a role variable of the same type and secrecy. An option
kubernetes.core adds fails these tests until the table, the defaults and the argument spec have
it, so the engine and the apply can never resolve different identities."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import urllib3
import yaml
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import (
    AUTH_ARG_MAP,
    AUTH_ARG_SPEC,
    AUTH_PROXY_HEADERS_SPEC,
)
from ansible_collections.kubernetes.core.plugins.module_utils.k8s import client as core

from ansible_collections.exchange.platform.plugins.plugin_utils import connection
from ansible_collections.exchange.platform.plugins.plugin_utils.client import KubeError
from ansible_collections.exchange.platform.plugins.plugin_utils.connection_options import (
    BOOLEANS,
    CONNECTION_OPTIONS,
    LISTS,
    MAPPINGS,
)

ROOT = Path(__file__).resolve().parents[4]
ROLE = ROOT / "roles/exchange_router"
DEFAULTS = yaml.safe_load((ROLE / "defaults/main.yml").read_text())
SPECS = yaml.safe_load((ROLE / "meta/argument_specs.yml").read_text())["argument_specs"]
P = "exchange_router_"
# kubernetes.core's type -> the role variable's (its `path` is a str; an unset type is str)
ROLE_TYPES = {
    None: "str",
    "str": "str",
    "path": "str",
    "bool": "bool",
    "list": "list",
    "dict": "dict",
}
# kubernetes.core's kubeconfig is raw and secret because it may be the kubeconfig's contents; the
# role's is the file's path.
KUBECONFIG_IS_A_PATH = "kubeconfig"
SECRET = "s3cr3t-value"


def test_the_table_has_every_connection_option_of_kubernetes_core() -> None:
    assert list(CONNECTION_OPTIONS) == list(AUTH_ARG_SPEC)


@pytest.mark.parametrize(("attribute", "option"), list(AUTH_ARG_MAP.items()))
def test_the_other_name_is_the_client_configuration_s_attribute(
    attribute: str, option: str
) -> None:
    assert CONNECTION_OPTIONS[option] == attribute


@pytest.mark.parametrize("option", list(AUTH_ARG_SPEC))
def test_the_other_name_is_kubernetes_core_s_alias(option: str) -> None:
    aliases = AUTH_ARG_SPEC[option].get("aliases", [])
    others = [CONNECTION_OPTIONS[option]] if CONNECTION_OPTIONS[option] != option else []
    assert aliases == others


def test_options_read_from_the_environment_as_kubernetes_core_types_them() -> None:
    def typed(kind: str) -> set[str]:
        return {name for name, spec in AUTH_ARG_SPEC.items() if spec.get("type") == kind}

    assert typed("bool") == BOOLEANS
    assert typed("list") == LISTS
    assert typed("dict") == set(MAPPINGS)
    assert MAPPINGS["proxy_headers"] == tuple(AUTH_PROXY_HEADERS_SPEC)


@pytest.mark.parametrize("entry", list(SPECS))
@pytest.mark.parametrize("option", list(AUTH_ARG_SPEC))
def test_each_option_is_a_role_variable_of_the_same_type_and_secrecy(
    entry: str, option: str
) -> None:
    theirs = AUTH_ARG_SPEC[option]
    ours = SPECS[entry]["options"][P + option]
    assert P + option in DEFAULTS
    if option != KUBECONFIG_IS_A_PATH:
        assert ours["type"] == ROLE_TYPES[theirs.get("type")]
        assert ours.get("no_log", False) == theirs.get("no_log", False)
    if theirs.get("elements"):
        assert ours["elements"] == theirs["elements"]
    for key, sub in theirs.get("options", {}).items():
        assert ours["options"][key]["type"] == sub["type"]
        assert ours["options"][key].get("no_log", False) == sub.get("no_log", False)
    assert set(ours.get("options", {})) == set(theirs.get("options", {}))


def environments() -> list[dict[str, str]]:
    """Each option by each of its K8S_AUTH_* names, values of each reading, and all at once."""
    values = {"bool": ["no", "False", "0", "yes", "1"], "list": ["a,b,", ""], "str": ["x", ""]}
    envs: list[dict[str, str]] = []
    for name, other in CONNECTION_OPTIONS.items():
        if name in MAPPINGS:
            keys = [f"K8S_AUTH_{name.upper()}_{key.upper()}" for key in MAPPINGS[name]]
            envs += [{key: "v"} for key in keys] + [dict.fromkeys(keys, "v")]
            continue
        kind = "bool" if name in BOOLEANS else "list" if name in LISTS else "str"
        for env_name in dict.fromkeys([name, other]):
            envs += [{f"K8S_AUTH_{env_name.upper()}": value} for value in values[kind]]
    envs.append({"K8S_AUTH_VALIDATE_CERTS": "no", "K8S_AUTH_VERIFY_SSL": "yes"})  # first wins
    envs.append({"K8S_AUTH_SSL_CA_CERT": "/other", "K8S_AUTH_CA_CERT": "/first"})
    envs.append({k: v for env in envs for k, v in env.items()})
    return envs


def only(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """This process's K8S_AUTH_* variables, which kubernetes.core reads, become exactly `env`."""
    for key in [k for k in os.environ if k.startswith("K8S_AUTH_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)


@pytest.mark.parametrize("env", environments(), ids=lambda env: ",".join(env)[:80])
def test_resolve_reads_the_environment_exactly_as_kubernetes_core_does(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    only(env, monkeypatch)
    resolved = connection.resolve(dict.fromkeys(CONNECTION_OPTIONS), env)

    # kubernetes.core's reading, by the client configuration's names (with no proxy header
    # variable it has proxy_headers {}, which sends no header, as an unset one)
    theirs = {k: v for k, v in core._create_auth_spec().items() if v != {}}
    ours = {connection.CONFIGURATION_NAMES.get(k, k): v for k, v in resolved.items()}
    assert {k: v for k, v in ours.items() if k not in connection.HEADERS} == theirs
    headers = {"Impersonate-User": "impersonate_user", "Impersonate-Group": "impersonate_groups"}
    sent = {header: resolved.get(option) for header, option in headers.items()}
    assert core._create_headers() == {header: value for header, value in sent.items() if value}


def test_a_role_variable_comes_before_its_environment_variable() -> None:
    env = {"K8S_AUTH_USERNAME": "env", "K8S_AUTH_PROXY_HEADERS_USER_AGENT": "env"}
    given = {"username": "role", "proxy_headers": {"user_agent": "role"}, "persist_config": False}
    assert connection.resolve(given, env) == given
    assert connection.resolve({"proxy_headers": {}, "persist_config": None}, env) == {
        "username": "env",
        "proxy_headers": {"user_agent": "env"},
    }


def kubeconfig(tmp_path: Path) -> str:
    path = tmp_path / "kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://from-kubeconfig:6443"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    return str(path)


@pytest.mark.parametrize(
    ("credentials", "direct"),
    [
        ({"api_key": SECRET}, True),
        ({"client_cert": "/c.crt", "client_key": "/c.key"}, True),
        ({"username": "alice", "password": SECRET}, True),
        ({"client_cert": "/c.crt"}, False),  # without its key: the kubeconfig's
        ({"username": "alice"}, False),  # without a password: the kubeconfig's
    ],
)
def test_the_host_wins_over_a_kubeconfig_when_kubernetes_core_s_does(
    credentials: dict[str, str], direct: bool, tmp_path: Path
) -> None:
    resolved = {"kubeconfig": kubeconfig(tmp_path), "host": "https://h:6443/", **credentials}
    configuration = connection.connect(resolved, "m").api.configuration
    theirs = core._create_configuration(
        {connection.CONFIGURATION_NAMES.get(k, k): v for k, v in resolved.items()}
    )
    assert configuration.host == theirs.host == "https://h:6443"
    # a kubeconfig read brings its user's token unless the options carry one
    read = configuration.api_key.get("authorization") == "Bearer t"
    assert read is (not direct and "api_key" not in credentials)
    where = connection.describe(resolved)
    assert where == (
        "host https://h:6443/"
        if direct
        else f"kubeconfig {resolved['kubeconfig']} (context current)"
    )
    assert SECRET not in where


def test_an_empty_environment_variable_is_what_kubernetes_core_makes_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """K8S_AUTH_HOST="" is a host "" to kubernetes.core.k8s, whose process has the same
    environment; the engine's client must be the same one, not the kubeconfig's host."""
    env = {"K8S_AUTH_KUBECONFIG": kubeconfig(tmp_path), "K8S_AUTH_HOST": ""}
    only(env, monkeypatch)
    theirs = core._create_configuration(core._create_auth_spec())
    ours = connection.connect(connection.resolve({"host": ""}, env), "m").api.configuration
    assert ours.host == theirs.host == ""


def test_proxy_headers_reach_the_client_s_proxy_manager() -> None:
    env = {"K8S_AUTH_PROXY_HEADERS_PROXY_BASIC_AUTH": "u:" + SECRET}
    resolved = connection.resolve(
        {"host": "https://h:6443", "api_key": "t", "proxy": "http://p:3128"}, env
    )
    api = connection.connect(resolved, "m").api
    expected = urllib3.util.make_headers(proxy_basic_auth="u:" + SECRET)
    assert api.configuration.proxy_headers == expected
    assert api.rest_client.pool_manager.proxy_headers == expected
    assert SECRET not in connection.describe(resolved)


def test_persist_config_reaches_the_kubeconfig_loader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []
    load = core.kubernetes.config.load_kube_config

    def recording(**kwargs: Any) -> None:
        calls.append(kwargs)
        load(**kwargs)

    monkeypatch.setattr(core.kubernetes.config, "load_kube_config", recording)
    resolved = connection.resolve(
        {"kubeconfig": kubeconfig(tmp_path)}, {"K8S_AUTH_PERSIST_CONFIG": "yes"}
    )
    assert resolved["persist_config"] is True
    assert (
        connection.connect(resolved, "m").api.configuration.host == "https://from-kubeconfig:6443"
    )
    assert calls[-1]["persist_config"] is True


def test_a_password_is_in_no_message(tmp_path: Path) -> None:
    resolved = {
        "kubeconfig": kubeconfig(tmp_path),
        "context": "none",
        "username": "u",
        "password": SECRET,
    }
    with pytest.raises(KubeError) as error:
        connection.connect(resolved, "m")
    assert SECRET not in str(error.value)
    assert "context none" in str(error.value)


def test_module_args_hand_the_apply_every_resolved_option() -> None:
    env = {f"K8S_AUTH_{name.upper()}": "1" for name in CONNECTION_OPTIONS if name not in MAPPINGS}
    resolved = connection.resolve({}, env)
    assert set(connection.module_args(resolved)) == set(CONNECTION_OPTIONS) - set(MAPPINGS)


def test_without_the_kubernetes_client_connect_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(connection, "IMPORT_ERROR", "No module named 'kubernetes'")
    with pytest.raises(KubeError, match=r"pip install kubernetes\): No module named 'kubernetes'"):
        connection.connect({"host": "https://h:6443", "api_key": SECRET}, "m")


def test_host_and_token_win_over_a_kubeconfig_as_in_kubernetes_core(tmp_path: Path) -> None:
    env = {
        "K8S_AUTH_KUBECONFIG": kubeconfig(tmp_path),
        "K8S_AUTH_HOST": "https://from-token:6443/",
        "K8S_AUTH_API_KEY": "token",
    }
    resolved = connection.resolve({}, env)
    client = connection.connect(resolved, "m")
    assert client.api.configuration.host == "https://from-token:6443"
    assert client.api.configuration.api_key == {"authorization": "Bearer token"}
    # the apply gets exactly the same options, so it reaches the same cluster as the same user
    assert connection.module_args(resolved) == resolved
    only_kubeconfig = connection.resolve({}, {"K8S_AUTH_KUBECONFIG": env["K8S_AUTH_KUBECONFIG"]})
    assert connection.connect(only_kubeconfig, "m").api.configuration.host == (
        "https://from-kubeconfig:6443"
    )


def test_role_variables_come_before_the_environment_and_env_names_follow_kubernetes_core() -> None:
    env = {
        "K8S_AUTH_HOST": "https://env:6443",
        "K8S_AUTH_VERIFY_SSL": "no",
        "K8S_AUTH_SSL_CA_CERT": "/ca.crt",
        "K8S_AUTH_CERT_FILE": "/c.crt",
        "K8S_AUTH_IMPERSONATE_GROUPS": "a,b",
    }
    resolved = connection.resolve({"host": "https://role:6443", "context": ""}, env)
    assert resolved == {
        "host": "https://role:6443",
        "validate_certs": False,
        "ca_cert": "/ca.crt",
        "client_cert": "/c.crt",
        "impersonate_groups": ["a", "b"],
    }
    assert connection.resolve({"validate_certs": None}, {"K8S_AUTH_VALIDATE_CERTS": "1"}) == {
        "validate_certs": True
    }


def test_impersonation_reaches_the_engine_s_requests() -> None:
    resolved = {"host": "https://h:6443", "api_key": "t", "impersonate_user": "alice"}
    client = connection.connect(resolved, "m")
    assert client.api.default_headers["Impersonate-User"] == "alice"


def test_a_kubeconfig_that_cannot_be_loaded_is_a_clear_error(tmp_path: Path) -> None:
    resolved = {"kubeconfig": kubeconfig(tmp_path), "context": "no-such-context"}
    with pytest.raises(KubeError, match="no-such-context"):
        connection.connect(resolved, "m")
