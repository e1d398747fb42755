"""promote(): what an app-branch commit holds, where it comes from, and that it is pushed once, atomically."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from gitrepos import API, BASE_FILES, DEV, PROD, Human, Remote, git, pin, ticket

from k8sta_cmp import contract, inputs, safety
from k8sta_cmp.kustomize import Kustomize
from k8sta_daemon.adapters.git import appbranch, errors, messages
from k8sta_daemon.adapters.git.mirror import Mirror

CMP = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "k8sta-cmp"


def promote(mirror: Mirror, kustomize: Kustomize, limits: safety.Limits, *, name: str = "api-42",
            tag: str = "1.2.3", targets: list[appbranch.AppTarget] | None = None,
            config_commit: str | None = None, station: str = "dev", input_key: bytes | None = None) -> dict[str, str]:
    return appbranch.promote(
        mirror, source_branch="main", config_commit=config_commit, targets=targets or [DEV],
        ticket=ticket(name), track="main", station=station, images=[pin(tag)],
        kustomize=kustomize, limits=limits, input_key=input_key,
    )


def rendered_objects(remote: Remote, rev: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(remote.show(rev, contract.RENDERED_PATH)) if d]


def test_branch_holds_exactly_the_inputs_and_the_k8sta_files(
        mirror: Mirror, remote: Remote, kustomize: Kustomize, limits: safety.Limits) -> None:
    result = promote(mirror, kustomize, limits)

    sha = result["env/dev"]
    assert remote.head("env/dev") == sha
    shared = {p for p in BASE_FILES if not p.startswith("env/")}
    assert remote.files(sha) == shared | {"env/dev/kustomization.yaml", contract.METADATA_PATH,
                                          contract.RENDERED_PATH, contract.WRAPPER_PATH}
    for path in shared | {"env/dev/kustomization.yaml"}:
        assert remote.show(sha, path) == BASE_FILES[path].rstrip("\n")
    meta = contract.parse_metadata(remote.show(sha, contract.METADATA_PATH) + "\n")
    assert meta.ticket == ticket("api-42")
    assert meta.application == DEV.application
    assert meta.kustomization == "env/dev"
    assert meta.images == (pin("1.2.3"),)
    assert meta.source.config_commit == meta.source.overlay_commit == remote.head("main")
    (deployment,) = rendered_objects(remote, sha)
    assert deployment["metadata"]["namespace"] == "dev"
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == f"{API}:1.2.3"


def test_commit_message_reads_well_and_carries_trailers(
        mirror: Mirror, remote: Remote, kustomize: Kustomize, limits: safety.Limits) -> None:
    sha = promote(mirror, kustomize, limits)["env/dev"]

    message = remote.git("log", "-1", "--format=%B", sha)
    assert message.splitlines()[0] == f"k8sta: ticket api-42 → station dev ({API}:1.2.3)"
    assert f"image {API}:1.2.3" in message
    said = messages.trailers(message)
    assert (said.ticket, said.station, said.track, said.rerender) == ("k8sta/api-42", "dev", "main", None)
    # git itself finds them as trailers too.
    assert "K8sTA-Ticket: k8sta/api-42" in remote.git("log", "-1", "--format=%(trailers)", sha)


def test_config_pinned_to_an_older_commit_while_the_overlay_comes_from_the_newest(
        mirror: Mirror, remote: Remote, human: Human, kustomize: Kustomize, limits: safety.Limits) -> None:
    pinned = remote.head("main")
    assert pinned
    human.commit({"base/deployment.yaml": BASE_FILES["base/deployment.yaml"].replace("replicas: 1", "replicas: 5")},
                 "Scale up (shared config, not pinned by the ticket)")
    overlay = human.commit({"env/dev/kustomization.yaml": "resources:\n- ../../base\nnamespace: dev-2\n"},
                           "Move dev to namespace dev-2")
    newest = human.commit({"env/prod/kustomization.yaml": "resources:\n- ../../base\nnamespace: prod-2\n"},
                          "Prod only")

    sha = promote(mirror, kustomize, limits, config_commit=pinned)["env/dev"]

    meta = contract.parse_metadata(remote.show(sha, contract.METADATA_PATH) + "\n")
    assert meta.source.config_commit == pinned
    assert meta.source.overlay_commit == overlay != newest
    assert "replicas: 1" in remote.show(sha, "base/deployment.yaml")
    assert "dev-2" in remote.show(sha, "env/dev/kustomization.yaml")
    (deployment,) = rendered_objects(remote, sha)
    assert (deployment["metadata"]["namespace"], deployment["spec"]["replicas"]) == ("dev-2", 1)
    message = remote.git("log", "-1", "--format=%B", sha)
    assert f"config main@{pinned[:12]}" in message and f"overlay env/dev/ from main@{overlay[:12]}" in message


def test_app_branch_is_an_orphan_and_grows_its_own_history(
        mirror: Mirror, remote: Remote, kustomize: Kustomize, limits: safety.Limits) -> None:
    first = promote(mirror, kustomize, limits, name="api-1", tag="1.0.0")["env/dev"]
    second = promote(mirror, kustomize, limits, name="api-2", tag="2.0.0")["env/dev"]

    assert remote.git("rev-list", "--parents", "-n1", first).split() == [first]
    assert remote.git("rev-list", "--parents", "-n1", second).split() == [second, first]
    assert remote.git("merge-base", "main", "env/dev", check=False) == ""
    assert remote.count("env/dev") == 2
    message = remote.git("log", "-1", "--format=%B", second)
    assert f"image {API}:2.0.0 (was 1.0.0)" in message and "config main@" in message


def test_rendered_file_matches_k8sta_cmp_verify_in_a_real_checkout(
        mirror: Mirror, remote: Remote, tmp_path: Path, kustomize: Kustomize, limits: safety.Limits) -> None:
    sha = promote(mirror, kustomize, limits)["env/dev"]
    checkout = tmp_path / "argocd-checkout"
    git("clone", "-q", "--branch", "env/dev", remote.url, str(checkout))
    env = {**os.environ, "ARGOCD_APP_NAME": "api-dev", "ARGOCD_APP_NAMESPACE": "argocd",
           "ARGOCD_APP_SOURCE_PATH": ".", "ARGOCD_APP_REVISION": sha}

    verify = subprocess.run([str(CMP), "verify"], cwd=checkout, env=env, capture_output=True, text=True,
                            check=False)
    generate = subprocess.run([str(CMP), "generate"], cwd=checkout, env=env, capture_output=True, check=False)

    assert verify.returncode == 0, verify.stderr
    assert verify.stdout.startswith("verified: ticket k8sta/api-42 station dev sha256 ")
    assert generate.returncode == 0, generate.stderr
    assert generate.stdout == (checkout / contract.RENDERED_PATH).read_bytes()


def test_with_the_input_key_the_commit_is_signed_and_the_plugin_takes_the_signed_path(
        mirror: Mirror, remote: Remote, tmp_path: Path, kustomize: Kustomize, limits: safety.Limits) -> None:
    key = b"daemon-and-sidecar-shared-key-42"
    sha = promote(mirror, kustomize, limits, input_key=key)["env/dev"]
    assert contract.INPUTS_PATH in remote.files(sha)
    manifest = remote.show(sha, contract.INPUTS_PATH)
    assert "application argocd/api-dev\n" in manifest and "file " in manifest
    assert contract.parse_metadata(remote.show(sha, contract.METADATA_PATH) + "\n") is not None
    checkout = tmp_path / "argocd-checkout"
    git("clone", "-q", "--branch", "env/dev", remote.url, str(checkout))
    key_file = tmp_path / "key"
    key_file.write_bytes(key)
    env = {**os.environ, "ARGOCD_APP_NAME": "api-dev", "ARGOCD_APP_NAMESPACE": "argocd",
           "ARGOCD_APP_SOURCE_PATH": ".", "ARGOCD_APP_REVISION": sha, inputs.KEY_ENV: str(key_file)}
    probe = ("import sys; from k8sta_cmp import cli; code = cli.main(['generate']); "
             "print('yaml' in sys.modules, file=sys.stderr); sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", probe], cwd=checkout, env=env, capture_output=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr.decode().strip() == "False"  # the signed path: no YAML parsed
    assert done.stdout == (checkout / contract.RENDERED_PATH).read_bytes()
    (checkout / "base/deployment.yaml").write_text((checkout / "base/deployment.yaml").read_text() + "# x\n")
    edited = subprocess.run([str(CMP), "generate"], cwd=checkout, env=env, capture_output=True, check=False)
    assert edited.returncode == 1
    assert b"refused: base/deployment.yaml was changed after K8sTA signed the inputs" in edited.stderr


def test_every_k8sta_commit_moves_the_branch_sequence_forward_and_signs_it(
        mirror: Mirror, remote: Remote, tmp_path: Path, kustomize: Kustomize, limits: safety.Limits) -> None:
    """Contract v3: the sequence (and the Station) are in the signed manifest, so a replayed old commit
    is a different tree from the current one, and no writer without the key can move it forward."""
    key = b"daemon-and-sidecar-shared-key-42"
    first = promote(mirror, kustomize, limits, name="api-1", tag="1.0.0", input_key=key)["env/dev"]
    second = promote(mirror, kustomize, limits, name="api-2", tag="2.0.0", input_key=key)["env/dev"]
    hand = tmp_path / "hand"
    git("clone", "-q", "-b", "env/dev", remote.url, str(hand))
    (hand / "README.md").write_text("edited by hand\n")
    git("commit", "-q", "-am", "by hand", cwd=hand)
    git("push", "-q", "origin", "env/dev", cwd=hand)
    third = promote(mirror, kustomize, limits, name="api-3", tag="3.0.0", input_key=key)["env/dev"]

    sequences = [contract.parse_metadata(remote.show(sha, contract.METADATA_PATH) + "\n").sequence
                 for sha in (first, second, third)]
    assert sequences == [1, 2, 3]  # the hand edit in between does not move it
    manifest = remote.show(third, contract.INPUTS_PATH)
    assert "\nstation dev\nsequence 3\n" in manifest


def test_without_the_input_key_no_manifest_is_written(
        mirror: Mirror, remote: Remote, kustomize: Kustomize, limits: safety.Limits) -> None:
    sha = promote(mirror, kustomize, limits)["env/dev"]
    assert contract.INPUTS_PATH not in remote.files(sha)


def test_two_targets_are_one_atomic_push(
        mirror: Mirror, remote: Remote, kustomize: Kustomize, limits: safety.Limits) -> None:
    result = promote(mirror, kustomize, limits, targets=[DEV, PROD], station="both")
    assert set(result) == {"env/dev", "env/prod"}
    assert remote.head("env/dev") == result["env/dev"] and remote.head("env/prod") == result["env/prod"]
    assert contract.parse_metadata(remote.show(result["env/prod"], contract.METADATA_PATH) + "\n"
                                   ).application == PROD.application

    # The server refuses one ref: neither moves.
    remote.hook("update", '[ "$1" = refs/heads/env/prod ] && { echo "prod is frozen" >&2; exit 1; }\nexit 0\n')
    with pytest.raises(errors.PushRejected) as caught:
        promote(mirror, kustomize, limits, name="api-43", tag="1.2.4", targets=[DEV, PROD], station="both")

    assert isinstance(caught.value, errors.GiveUp)
    assert "env/prod" in str(caught.value) and "prod is frozen" in str(caught.value)
    assert remote.head("env/dev") == result["env/dev"]
    assert remote.head("env/prod") == result["env/prod"]


def test_branch_created_by_someone_else_meanwhile_is_not_overwritten(
        mirror: Mirror, remote: Remote, tmp_path: Path, kustomize: Kustomize, limits: safety.Limits) -> None:
    # Another daemon (its own cache) creates env/dev between our fetch and our push.
    other = promote(Mirror.open(remote.url, cache_dir=tmp_path / "other-cache"), kustomize, limits,
                    name="api-7", tag="7.0.0")["env/dev"]
    remote.git("update-ref", "-d", "refs/heads/env/dev")
    hook = mirror.path / "hooks" / "pre-push"
    hook.write_text(f"#!/bin/sh\n[ -e {tmp_path}/raced ] || {{ touch {tmp_path}/raced; "
                    f"git --git-dir={remote.path} update-ref refs/heads/env/dev {other}; }}\n")
    hook.chmod(0o755)

    sha = promote(mirror, kustomize, limits)["env/dev"]

    assert (tmp_path / "raced").exists()
    assert remote.head("env/dev") == sha
    assert remote.git("rev-list", "--parents", "-n1", sha).split() == [sha, other]


def test_non_fast_forward_is_retried_on_the_new_head(
        mirror: Mirror, remote: Remote, tmp_path: Path, kustomize: Kustomize, limits: safety.Limits) -> None:
    base = promote(mirror, kustomize, limits, name="api-1", tag="1.0.0")["env/dev"]
    # Another K8sTA writer's commit, made elsewhere and not yet on the branch.
    theirs = promote(Mirror.open(remote.url, cache_dir=tmp_path / "other-cache"), kustomize, limits,
                     name="api-2", tag="2.0.0")["env/dev"]
    remote.git("update-ref", "refs/heads/env/dev", base)
    # It lands exactly between our fetch and our push (git runs pre-push after reading the remote's refs).
    hook = mirror.path / "hooks" / "pre-push"
    hook.write_text(f"#!/bin/sh\n[ -e {tmp_path}/raced ] || {{ touch {tmp_path}/raced; "
                    f"git --git-dir={remote.path} update-ref refs/heads/env/dev {theirs}; }}\n")
    hook.chmod(0o755)

    ours = promote(mirror, kustomize, limits, name="api-3", tag="3.0.0")["env/dev"]

    assert (tmp_path / "raced").exists()
    assert remote.head("env/dev") == ours
    assert remote.git("rev-list", "--parents", "-n1", ours).split() == [ours, theirs]
    assert remote.count("env/dev") == 3
    assert "(was 2.0.0)" in remote.git("log", "-1", "--format=%B", ours)


def test_a_branch_that_keeps_moving_gives_retry_later_after_bounded_attempts(
        mirror: Mirror, remote: Remote, tmp_path: Path, kustomize: Kustomize, limits: safety.Limits) -> None:
    base = promote(mirror, kustomize, limits, name="api-1", tag="1.0.0")["env/dev"]
    log = tmp_path / "moves"
    hook = mirror.path / "hooks" / "pre-push"
    hook.write_text(
        "#!/bin/sh\n"
        f"R={remote.path}\n"
        'head=$(git --git-dir=$R rev-parse refs/heads/env/dev)\n'
        'new=$(git -c user.name=other -c user.email=o@x --git-dir=$R commit-tree "$head^{tree}" '
        '-p "$head" -m "other")\n'
        f'git --git-dir=$R update-ref refs/heads/env/dev "$new" && echo "$new" >> {log}\n'
    )
    hook.chmod(0o755)

    with pytest.raises(errors.BranchMoved) as caught:
        promote(mirror, kustomize, limits, name="api-2", tag="2.0.0")

    assert isinstance(caught.value, errors.RetryLater)
    moves = log.read_text().split()
    assert len(moves) == appbranch.DEFAULT_ATTEMPTS
    assert remote.head("env/dev") == moves[-1]
    assert remote.count("env/dev") == 1 + len(moves)  # none of ours landed
    assert base in remote.git("rev-list", "env/dev").split()


def test_repromote_is_idempotent_same_sha_and_no_new_commit(
        mirror: Mirror, remote: Remote, tmp_path: Path, kustomize: Kustomize, limits: safety.Limits) -> None:
    first = promote(mirror, kustomize, limits, targets=[DEV, PROD], station="both")
    pushes = tmp_path / "pushes"
    remote.hook("pre-receive", f"cat >> {pushes}\n")

    again = promote(mirror, kustomize, limits, targets=[DEV, PROD], station="both")
    # A restarted daemon with an empty cache finds the same heads by their trailers.
    restarted = promote(Mirror.open(remote.url, cache_dir=tmp_path / "fresh-cache"), kustomize, limits,
                        targets=[DEV, PROD], station="both")

    assert again == restarted == first
    assert not pushes.exists()  # nothing was pushed at all
    assert remote.count("env/dev") == remote.count("env/prod") == 1


def test_same_ticket_with_other_pins_or_station_is_a_new_commit(
        mirror: Mirror, remote: Remote, kustomize: Kustomize, limits: safety.Limits) -> None:
    first = promote(mirror, kustomize, limits)["env/dev"]
    other_tag = promote(mirror, kustomize, limits, tag="1.2.4")["env/dev"]
    other_station = promote(mirror, kustomize, limits, tag="1.2.4", station="dev-b")["env/dev"]

    assert len({first, other_tag, other_station}) == 3
    assert remote.count("env/dev") == 3


def test_crash_before_the_push_then_resume_makes_exactly_one_commit(
        mirror: Mirror, remote: Remote, kustomize: Kustomize, limits: safety.Limits) -> None:
    # The push dies after the commits were written into the mirror (here: the connection drops).
    hook = mirror.path / "hooks" / "pre-push"
    hook.write_text("#!/bin/sh\necho 'connection reset' >&2\nexit 1\n")
    hook.chmod(0o755)
    with pytest.raises(errors.TransportFailed) as caught:
        promote(mirror, kustomize, limits, targets=[DEV, PROD], station="both")
    assert isinstance(caught.value, errors.RetryLater)
    assert remote.head("env/dev") is None and remote.head("env/prod") is None

    hook.unlink()
    resumed = promote(mirror, kustomize, limits, targets=[DEV, PROD], station="both")
    again = promote(mirror, kustomize, limits, targets=[DEV, PROD], station="both")

    assert again == resumed
    assert remote.count("env/dev") == remote.count("env/prod") == 1


def test_partial_earlier_push_only_pushes_the_missing_target(
        mirror: Mirror, remote: Remote, kustomize: Kustomize, limits: safety.Limits) -> None:
    dev_only = promote(mirror, kustomize, limits, station="both")["env/dev"]

    both = promote(mirror, kustomize, limits, targets=[DEV, PROD], station="both")

    assert both["env/dev"] == dev_only
    assert remote.head("env/prod") == both["env/prod"]
    assert remote.count("env/dev") == 1


def test_source_branch_is_never_written(
        mirror: Mirror, remote: Remote, human: Human, kustomize: Kustomize, limits: safety.Limits) -> None:
    before = remote.refs()
    promote(mirror, kustomize, limits, targets=[DEV, PROD], station="both")
    human.commit({"env/dev/extra.txt": "x\n"}, "touch dev overlay")
    main_after_human = remote.head("main")
    appbranch.rerender(mirror, source_branch="main", target=DEV, kustomize=kustomize, limits=limits)
    promote(mirror, kustomize, limits, name="api-43", tag="9.9.9")

    after = remote.refs()
    assert after["refs/heads/main"] == main_after_human != before["refs/heads/main"]
    assert set(after) == set(before) | {"refs/heads/env/dev", "refs/heads/env/prod"}
    assert remote.git("log", "--format=%an", "main").splitlines() == ["Human", "Human"]

    with pytest.raises(errors.InvalidRequest):
        promote(mirror, kustomize, limits,
                targets=[appbranch.AppTarget(DEV.application, "main", "env/dev")])
    assert remote.head("main") == main_after_human


def test_render_failure_is_give_up_and_pushes_nothing(
        mirror: Mirror, remote: Remote, human: Human, kustomize: Kustomize, limits: safety.Limits) -> None:
    human.commit({"env/dev/kustomization.yaml": "resources:\n- ../../base\n- missing.yaml\n"}, "broken overlay")

    with pytest.raises(errors.RenderFailed) as caught:
        promote(mirror, kustomize, limits, targets=[DEV, PROD], station="both")

    assert isinstance(caught.value, errors.GiveUp)
    assert "env/dev" in str(caught.value) and "missing.yaml" in str(caught.value)
    assert remote.head("env/dev") is None and remote.head("env/prod") is None


def test_config_commit_not_on_the_source_branch_is_refused(
        mirror: Mirror, remote: Remote, human: Human, kustomize: Kustomize, limits: safety.Limits) -> None:
    git("checkout", "-q", "-b", "feature", cwd=human.path)
    (human.path / "README.md").write_text("unreviewed\n")
    git("commit", "-qam", "unreviewed change", cwd=human.path)
    git("push", "-q", "origin", "feature", cwd=human.path)
    unreviewed = git("rev-parse", "HEAD", cwd=human.path)

    with pytest.raises(errors.NotFound, match="not on branch main"):
        promote(mirror, kustomize, limits, config_commit=unreviewed)
    with pytest.raises(errors.NotFound, match="not found"):
        promote(mirror, kustomize, limits, config_commit="0" * 40)
    assert remote.head("env/dev") is None


def test_a_branch_not_written_by_k8sta_is_left_alone(
        mirror: Mirror, remote: Remote, kustomize: Kustomize, limits: safety.Limits) -> None:
    main = remote.head("main")
    remote.git("update-ref", "refs/heads/env/dev", str(main))

    head = appbranch.read_head(mirror, "env/dev")
    with pytest.raises(errors.NotAnAppBranch):
        promote(mirror, kustomize, limits)

    assert head == appbranch.Head(main, None)
    assert remote.head("env/dev") == main


def test_read_head(mirror: Mirror, remote: Remote, kustomize: Kustomize, limits: safety.Limits) -> None:
    assert appbranch.read_head(mirror, "env/dev") == appbranch.Head(None, None)
    sha = promote(mirror, kustomize, limits)["env/dev"]

    head_sha, meta = appbranch.read_head(mirror, "env/dev")

    assert head_sha == sha
    assert meta is not None and meta.ticket == ticket("api-42") and meta.images == (pin("1.2.3"),)
