"""Start-up: --help and config mistakes without the heavy libraries, deterministic mode without
torch's compiler stack, one MLflow client per store, and the precheck agreeing with validation."""
from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import components
from components.errors import ConfigError
from components.registry import REGISTRIES, check_value, describe, get_registry
import runner.jobs.job  # noqa: F401  (every kind registered: components, the trainer, the trackers)
from runner.cli import precheck as pc
from runner.cli.configs import to_plain
from tests.conftest import CONF, CONFIG_MISTAKES, FAST, ROOT, compose, in_process

HEAVY = ("torch", "sklearn", "mlflow", "datasets", "matplotlib", "scipy", "pandas",
         # the runner's modules that import them: the job and its stages, the model export, streaming
         "runner.jobs.job", "runner.jobs.stages", "runner.model.model_export", "runner.model.inference", "runner.tables.streaming", "runner.tables.streamed_fit")  # fmt: skip
PROBE = """
import atexit, json, runpy, sys
# atexit: the CLI ends by os._exit after running the atexit handlers (runner/cli/fast_exit.py)
atexit.register(lambda: print("HEAVY=" + json.dumps(sorted(m for m in {heavy} if m in sys.modules)), file=sys.stderr))
sys.argv = ["runner", *json.loads(sys.argv[1])]
runpy.run_module("runner", run_name="__main__", alter_sys=True)
"""


def probe(*args: str) -> tuple[str, list[str]]:
    """Run the CLI in a fresh interpreter; (stderr without the probe line, heavy modules loaded)."""
    code = PROBE.format(heavy=repr(HEAVY))
    res = subprocess.run([sys.executable, "-c", code, json.dumps(args)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    lines = res.stderr.splitlines()
    heavy = json.loads(next(line for line in lines if line.startswith("HEAVY="))[6:])
    return "\n".join(line for line in lines if not line.startswith("HEAVY=")) + res.stdout, heavy


def test_help_lists_every_group_without_heavy_imports() -> None:
    out, heavy = probe("--help")
    assert heavy == []
    for group in sorted(p for p in CONF.iterdir() if p.is_dir() and p.name not in ("hydra", "arm")):
        options = sorted(f.stem for f in group.glob("*.yaml"))
        assert f"{group.name}: {', '.join(options)}" in out  # Hydra's listing, read from conf/ here


def test_unknown_group_option_fails_without_heavy_imports() -> None:
    out, heavy = probe("scaler=bogus")
    assert "Could not find 'scaler/bogus'" in out and heavy == []


@pytest.fixture(scope="module")
def schema_outputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An outputs/ whose registry schema was left by one full (slow) validation."""
    outputs = tmp_path_factory.mktemp("startup")
    out, heavy = probe("scaler.name=standrd", f"paths.outputs={outputs}")
    assert "Error: scaler.name: unknown scaler 'standrd'. Did you mean 'standard'?" in out and "torch" in heavy
    assert pc.schema_path(outputs / "cache").is_file()
    return outputs


@pytest.mark.slow  # the module fixture's first (full) validation imports everything in a subprocess
@pytest.mark.parametrize(
    "args, message",
    [
        *CONFIG_MISTAKES,
        (["trainer.lr=-1"], "Error: trainer.lr: got -1; expected a number > 0."),
        (["split.test_size=1.5"], None),
        (["experiment_name=a/b"], None),
    ],
)
def test_config_mistakes_fail_before_heavy_imports(schema_outputs: Path, args: list[str], message: str | None) -> None:
    out, heavy = probe(*args, f"paths.outputs={schema_outputs}")
    assert heavy == [], out
    line = [x for x in out.splitlines() if x.startswith("Error: ")]
    assert len(line) == 1 and (message is None or line[0] == message)
    assert "Traceback" not in out


BAD = [
    ["scaler.name=standrd"], ["+scaler.foo=1"], ["loss=weighted_ce", "loss.beta=1.5"], ["trainer.lr=-1"],
    ["trainer.optimizer=rmsprop"], ["resampler=smote", "resampler.k_neighbors=0"], ["outlier=iqr", "outlier.action=maybe"],
    ["split.val_size=0"], ["experiment_name=.."], ["tracking.uri=sqlite://relative.db"], ["model.hidden=[0]"],
    ["augment=mixup", "augment.alpha=-1"], ["quality.bins=1"], ["dataset=digits", "+dataset.colour=1"],
    ["data.memory_budget=lots"], ["+data.budget=1GB"],
]  # fmt: skip


@pytest.mark.parametrize("args", BAD, ids=lambda a: " ".join(a))
def test_precheck_raises_what_full_validation_raises(tmp_path: Path, args: list[str]) -> None:
    """The reference is runner.jobs.job.validate on the real registries."""
    from runner.jobs.job import COMPONENT_GROUPS, validate

    assert tuple(COMPONENT_GROUPS) == pc.GROUPS
    components.load_builtin()
    pc.save_schema(tmp_path)
    plain = to_plain(compose([*FAST, *args]))
    with pytest.raises(ConfigError) as full:
        validate(plain)
    with pytest.raises(ConfigError) as quick:
        pc.precheck(plain, tmp_path)
    assert str(quick.value) == str(full.value)


def test_precheck_passes_valid_configs_and_ignores_a_stale_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    components.load_builtin()
    assert pc.precheck(to_plain(compose(FAST)), tmp_path) is False  # no schema yet: nothing checked
    pc.save_schema(tmp_path)
    for overrides in ([], ["experiment=boss_battle"], ["resampler=smote", "loss=focal", "scaler=robust"], ["outlier=iqr", "outlier.action=clip"]):
        assert pc.precheck(to_plain(compose([*FAST, *overrides])), tmp_path) is True
    doc = json.loads(pc.schema_path(tmp_path).read_text())
    assert str(Path(components.__file__).parent / "scalers.py") in doc["files"]
    monkeypatch.setattr(pc, "_plugins", lambda: ["someone=else.module@1.0"])  # a plugin installed since
    assert pc.load_schema(tmp_path) is None
    monkeypatch.undo()
    doc["files"].append(str(tmp_path / "edited.py"))  # a source file that changed (here: vanished)
    pc.schema_path(tmp_path).write_text(json.dumps(doc))
    assert pc.load_schema(tmp_path) is None
    pc.schema_path(tmp_path).write_text("{not json")
    assert pc.load_schema(tmp_path) is None and pc.precheck(to_plain(compose(["+scaler.foo=1"])), tmp_path) is False


def test_schema_has_every_name_and_parameter_of_the_registries(tmp_path: Path) -> None:
    """A schema missing a name or a parameter would reject a valid config: it lists what the real
    registries accept, wrapped components' parameters (an outlier's ``action``) included."""
    components.load_builtin()
    pc.save_schema(tmp_path)
    schema = pc.load_schema(tmp_path)
    assert schema is not None
    for kind in pc.GROUPS:
        real = get_registry(kind)
        assert schema[kind].names() == real.names(), kind
        for name in real.names():
            entry, stand_in = real.get(name), schema[kind].get(name)
            assert list(stand_in.signature()) == list(entry.signature()) and stand_in.runtime == entry.runtime, (kind, name)


def test_schema_hints_keep_what_validation_checks() -> None:
    """Every registered parameter's hint, through JSON and back, accepts and rejects the same values
    with the same words as the original hint."""
    components.load_builtin()

    probes = [None, True, False, 0, 1, -1, 2, 0.5, 1.5, -0.5, 100, "auto", "x", "inverse", [1, 2], [0.5, 2.0], ["a"], [[1]], {"a": 1}, [1, "a"]]
    checked = 0
    for kind in pc.GROUPS:
        for entry in REGISTRIES[kind]._entries.values():
            for name, (hint, _) in entry.signature().items():  # the wrapper's too (outlier actions)
                if hint is inspect.Parameter.empty:
                    continue
                copy = pc.decode_hint(json.loads(json.dumps(pc.encode_hint(hint))))
                literals = [v for v in getattr(hint, "__args__", ()) if isinstance(v, (str, int))]
                for value in probes + literals:
                    assert check_value(value, copy) == check_value(value, hint), (kind, entry.name, name, value)
                if '"any"' not in json.dumps(pc.encode_hint(hint)):  # "any" parts accept everything: never described
                    assert describe(copy) == describe(hint)
                checked += 1
    assert checked > 100


@pytest.mark.slow
def test_deterministic_job_without_the_compiler_stack() -> None:
    """Two runs give identical metrics, deterministic algorithms are on, and neither dynamo nor
    inductor was imported (``torch.use_deterministic_algorithms`` would import both)."""
    code = """
import json, os, sys, torch
from runner.cli.configs import compose
from runner.jobs.job import JobContext, run_job
cfg = ["dataset=breast_cancer", "model=logistic", "tracking=none", "progress=false", "quality=none", "cache.enabled=false"]
a = run_job(compose(cfg), JobContext()).metrics
b = run_job(compose(cfg), JobContext()).metrics
keys = [k for k in a if k.startswith(("test/", "val/"))]
print(json.dumps({"same": all(a[k] == b[k] for k in keys), "n": len(keys),
    "compiler": sorted(m for m in ("torch._dynamo", "torch._inductor", "sympy") if m in sys.modules),
    "deterministic": torch.are_deterministic_algorithms_enabled(), "warn_only": torch.is_deterministic_algorithms_warn_only_enabled(),
    "env": os.environ.get("TORCHINDUCTOR_DETERMINISTIC")}))
import torch._inductor.config as c
print(json.dumps({"inductor_flag": c.deterministic}))
"""
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    first, second = (json.loads(x) for x in res.stdout.strip().splitlines()[-2:])
    assert first == {"same": True, "n": first["n"], "compiler": [], "deterministic": True, "warn_only": True, "env": "1"}
    assert first["n"] > 10 and second == {"inductor_flag": True}  # imported later, inductor still gets the flag


def test_one_mlflow_client_per_store(tmp_path: Path) -> None:
    from mlflow import MlflowClient

    from runner.tracker.tracking import MlflowTracker

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    a, b = MlflowTracker(uri=uri, experiment="x"), MlflowTracker(uri=uri, experiment="y")
    assert a.client is b.client
    run_a, run_b = a.start_run("a", {}), b.start_run("b", {})
    run_a.log_metrics({"m": 1.0}), run_b.log_metrics({"m": 2.0})
    run_a.finish(), run_b.finish()
    reader = MlflowClient(uri)
    assert reader.get_run(run_a.run_id).data.metrics == {"m": 1.0} and reader.get_run(run_b.run_id).data.metrics == {"m": 2.0}
    other = MlflowTracker(uri=f"sqlite:///{tmp_path}/other.db", experiment="x")
    assert other.client is not a.client
    (tmp_path / "mlflow.db").unlink()  # a vanished store is opened again, not served from the cache
    (tmp_path / "mlflow.db-wal").unlink(missing_ok=True)
    (tmp_path / "mlflow.db-shm").unlink(missing_ok=True)
    c = MlflowTracker(uri=uri, experiment="x")
    assert c.client is not a.client and c.experiment_id()


@pytest.fixture
def compositions(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per full composition Hydra makes (``ConfigLoaderImpl.load_configuration``) from here on."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl

    calls: list[int] = []
    original = ConfigLoaderImpl.load_configuration

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ConfigLoaderImpl, "load_configuration", counted)
    return calls


@pytest.mark.slow  # three small jobs
def test_sweep_composes_each_job_once(tmp_path: Path, compositions: list[int]) -> None:
    """Hydra composes the master config twice (its mode, then the run), and each job once: the
    sweeper's check of the batch used to be composed again by the launcher (2 + 2 x jobs).
    ``python -m runner -m ...``'s main runs in this process (it patches Hydra as in its own process)."""
    from omegaconf import OmegaConf

    from runner.__main__ import main

    args = ["-m", "seed=0,1,2", "dataset=breast_cancer", "model=logistic", "tracking=none", "quality=none",
            "progress=false", "cache.enabled=false", f"paths.outputs={tmp_path}"]  # fmt: skip
    code, out, err = in_process(main, *args)
    assert code == 0 and len(compositions) == 5, (len(compositions), err[-3000:])
    jobs = sorted(tmp_path.glob("multirun/*/*/*/.hydra/config.yaml"))
    hydra = [OmegaConf.load(p.parent / "hydra.yaml").hydra for p in jobs]
    assert [OmegaConf.load(p).seed for p in jobs] == [0, 1, 2] and [h.job.num for h in hydra] == [0, 1, 2]
    assert [h.overrides.task[0] for h in hydra] == ["seed=0", "seed=1", "seed=2"]  # each job got its own config
    assert out.count("test/roc_auc") == 3 and "FAILED" not in err, err[-3000:]  # every job ran


def test_single_run_mistake_exits_on_hydras_first_composition(tmp_path: Path, compositions: list[int]) -> None:
    """With the registry schema cached, a single run's mistake exits on the composition Hydra makes
    to read the mode: no second composition, no run folder. A sweep override without ``-m`` still
    gets Hydra's own message, and Hydra's method is put back after the command."""
    from hydra._internal.hydra import Hydra

    from runner.__main__ import main

    pc.save_schema(tmp_path / "cache")  # what a full validation leaves behind (every kind is registered here)
    get_mode = Hydra.get_mode
    code, _, err = in_process(main, "+scaler.foo=1", f"paths.outputs={tmp_path}")
    assert code == 1 and "Error: scaler.foo: unknown parameter of scaler 'standard'" in err, err[-2000:]
    assert len(compositions) == 1 and not (tmp_path / "runs").exists()
    code, _, err = in_process(main, "seed=1,2", "+scaler.foo=1", f"paths.outputs={tmp_path}")
    assert code == 1 and "To sweep over it, add --multirun" in err and "scaler.foo" not in err, err[-2000:]
    assert Hydra.get_mode is get_mode


EAGER_OPTIM = """
import json, sys, torch
from runner.fitting.eager_optim import eager_class

def fit(cls, **kw):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    opt = cls(model.parameters(), lr=0.05, weight_decay=1e-3, **kw)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, threshold=0.5)
    calls = []
    opt.register_step_pre_hook(lambda *a: calls.append("pre"))
    opt.register_step_post_hook(lambda *a: calls.append("post"))
    X = torch.randn(128, 6, generator=torch.Generator().manual_seed(1))
    y = (X[:, 0] > 0).long() + (X[:, 1] > 1).long()
    for _ in range(25):
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(X), y)
        loss.backward()
        opt.step()
        sched.step(float(loss))
    again = cls(model.parameters(), lr=1.0, **kw)
    again.load_state_dict(opt.state_dict())
    return [p.detach().tolist() for p in model.parameters()], calls.count("pre"), calls.count("post"), again.param_groups[0]["lr"]

kinds = {"adam": (torch.optim.Adam, {}), "adamw": (torch.optim.AdamW, {}), "sgd": (torch.optim.SGD, {"momentum": 0.9})}
eager = {k: fit(eager_class(c), **kw) for k, (c, kw) in kinds.items()}
out = {"compiler": "torch._dynamo" in sys.modules,
       "subclass": all(issubclass(eager_class(c), c) and eager_class(c).__name__ == c.__name__ for c, _ in kinds.values())}
plain = {k: fit(c, **kw) for k, (c, kw) in kinds.items()}  # torch's own classes: they import dynamo
out["compiler_after_plain"] = "torch._dynamo" in sys.modules
out["same"] = eager == plain
out["hooks"] = sorted({(v[1], v[2]) for v in eager.values()})
out["lrs"] = sorted({v[3] for v in eager.values()})
breaks = []
original = torch._dynamo.graph_break
torch._dynamo.graph_break = lambda: breaks.append(1)
try:
    later = {k: fit(eager_class(c), **kw) for k, (c, kw) in kinds.items()}
finally:
    torch._dynamo.graph_break = original
out["same_later"] = later == plain
out["graph_breaks"] = len(breaks)
print(json.dumps(out))
"""


@pytest.mark.slow  # torch, then torch._dynamo, in a subprocess
def test_eager_optimizers_match_torch_without_the_compiler() -> None:
    """Adam, AdamW and SGD from ``eager_class`` give torch's own classes' parameters bit for bit
    (with step hooks, an LR scheduler and a state_dict round trip) without importing dynamo; once
    dynamo is imported, their step goes through torch's own ``_use_grad`` (its graph breaks run)."""
    res = subprocess.run([sys.executable, "-c", EAGER_OPTIM], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["compiler"] is False and out["subclass"] is True and out["compiler_after_plain"] is True
    assert out["same"] is True and out["same_later"] is True
    assert out["hooks"] == [[25, 25]] and 0 < max(out["lrs"]) < 0.05  # the scheduler lowered them
    assert out["graph_breaks"] == 2 * 25 * 3  # torch's _use_grad: two per step


MLP_JOB = """
import json, sys
from runner.cli.configs import compose
from runner.jobs.job import JobContext, run_job
import runner.fitting.eager_optim as eager_optim
cfg = ["dataset=breast_cancer", "tracking=none", "progress=false", "quality=none", "cache.enabled=false", "trainer.epochs=4"]
a = run_job(compose(cfg), JobContext()).metrics
compiler = sorted(m for m in ("torch._dynamo", "torch._inductor", "sympy") if m in sys.modules)
eager_optim.eager_class = lambda cls: cls  # torch's own optimizer classes (they import dynamo)
b = run_job(compose(cfg), JobContext()).metrics
keys = [k for k in a if k.startswith(("test/", "val/"))]
print(json.dumps({"compiler": compiler, "n": len(keys), "same": all(a[k] == b[k] for k in keys),
                  "optimizer": a.get("train/optimizer"), "plain_loaded_dynamo": "torch._dynamo" in sys.modules}))
"""


@pytest.mark.slow  # two MLP jobs in a subprocess
def test_mlp_job_without_the_compiler_and_with_the_same_metrics() -> None:
    """The default (MLP, Adam) job imports neither dynamo nor inductor nor sympy, and its test and
    validation metrics equal those of the same job trained by torch's own optimizer class."""
    res = subprocess.run([sys.executable, "-c", MLP_JOB], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["compiler"] == [] and out["n"] > 10 and out["same"] is True and out["plain_loaded_dynamo"] is True


def _schema(db: Path) -> tuple[dict[str, list[Any]], list[Any]]:
    import sqlite3

    con = sqlite3.connect(db)
    try:
        names = [n for (n,) in con.execute("select name from sqlite_master where type='table'")]
        columns = {n: sorted(con.execute(f'pragma table_info("{n}")').fetchall()) for n in names}
        return columns, con.execute("select version_num from alembic_version").fetchall()
    finally:
        con.close()


@pytest.mark.slow  # MLflow builds two schemas (~2 s each)
def test_new_store_is_a_copy_of_mlflows_empty_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow import MlflowClient
    from mlflow.store.db import utils

    from runner.tracker import schema_template
    from runner.tracker.tracking import MlflowTracker

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    template = schema_template.template_path()
    assert not template.exists() and str(tmp_path) in str(template)
    reference = tmp_path / "reference.db"  # built by MLflow alone
    MlflowClient(f"sqlite:///{reference}").search_experiments()

    def roundtrip(db: Path) -> None:
        tracker = MlflowTracker(uri=f"sqlite:///{db}", experiment="x")
        run = tracker.start_run("r", {"t": "1"})
        run.log_metrics({"m": 2.5})
        run.finish()
        assert MlflowClient(f"sqlite:///{db}").get_run(run.run_id).data.metrics == {"m": 2.5}
        assert _schema(db) == _schema(reference)

    roundtrip(tmp_path / "first.db")  # builds the template, then copies it
    assert template.is_file()
    migrations = []
    monkeypatch.setattr(utils, "_upgrade_db", lambda engine: migrations.append(engine))
    roundtrip(tmp_path / "second.db")
    assert migrations == []  # the copy was opened as an existing store
    monkeypatch.undo()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    template.write_bytes(b"not a database" * 100)  # damaged: MLflow refuses the copy, builds the store itself
    roundtrip(tmp_path / "third.db")
    assert not template.exists()


def test_sweep_parses_each_config_file_once_and_composes_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """With runner/cli/config_cache.py (``-m`` sweeps install it) every composition equals Hydra's
    own, a file is parsed once however many compositions read it, and no two compositions share objects."""
    from omegaconf import OmegaConf

    from runner.cli import config_cache
    from runner.cli.configs import compose as compose_job

    arms = [[f"scaler={s}", f"resampler={r}", "seed=1"] for s in ("none", "standard") for r in ("none", "smote")]
    with config_cache.disabled():
        before = [OmegaConf.to_yaml(compose_job(a)) for a in arms]
    config_cache.clear()
    parsed: list[str] = []
    loader = OmegaConf.load
    monkeypatch.setattr(OmegaConf, "load", staticmethod(lambda f: parsed.append(getattr(f, "name", str(f))) or loader(f)))
    config_cache.install()
    config_cache.install()  # a second call patches nothing more
    first = compose_job(arms[0])
    after = [OmegaConf.to_yaml(compose_job(a)) for a in arms]
    assert after == before
    assert parsed and len(parsed) == len(set(parsed))  # conf/config.yaml, scaler/none.yaml... once each
    assert any(name.endswith("scaler/standard.yaml") for name in parsed)
    again = compose_job(arms[0])
    again.scaler.name = "changed"
    assert first.scaler.name == "none" and compose_job(arms[0]).scaler.name == "none"


def test_a_sweep_merges_each_defaults_list_once_and_composes_what_hydra_composes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """runner/cli/config_cache.py merges a defaults list once: a 12-job scaler x resampler x seed
    sweep merges 4 (one per scaler x resampler), each job equals Hydra's own composition (hydra node
    included), no two share objects, and an edited file is merged again."""
    import shutil

    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf import OmegaConf

    from runner.cli import config_cache

    conf = tmp_path / "conf"
    shutil.copytree(CONF, conf)

    def composed(overrides: list[str]) -> Any:
        with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
            return hydra_compose("config", overrides=overrides, return_hydra_config=True)

    jobs = [[f"scaler={s}", f"resampler={r}", f"seed={k}", "trainer.lr=0.5"] for s in ("none", "standard") for r in ("none", "smote") for k in (0, 1, 2)]
    with config_cache.disabled():
        reference = [OmegaConf.to_container(composed(j), resolve=False) for j in jobs]
    config_cache.install()
    config_cache.clear()
    merges: list[Any] = []
    merge = config_cache._ORIGINAL_COMPOSE  # Hydra's own, counted below
    monkeypatch.setattr(config_cache, "_ORIGINAL_COMPOSE", lambda self, defaults, repo: merges.append(1) or merge(self, defaults, repo))
    first = composed(jobs[0])
    assert [OmegaConf.to_container(composed(j), resolve=False) for j in jobs] == reference
    assert len(merges) == 4
    first.trainer.lr = 9.0
    first.scaler.name = "changed"
    again = composed(jobs[0])
    assert again.trainer.lr == 0.5 and again.scaler == {"name": "none"} and len(merges) == 4
    standard = conf / "scaler" / "standard.yaml"
    standard.write_text(standard.read_text().replace("with_std: true", "with_std: false"))
    assert composed(jobs[6]).scaler.with_std is False and len(merges) == 5  # jobs[6]: scaler=standard
