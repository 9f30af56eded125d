"""The run report: what it reads, what the page shows, that its figures are real images (and, with
Chromium installed, that a browser loads them)."""

import base64
import io
import json
import re
import shutil
import subprocess

import pytest
import yaml

from lead_lite import report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _train_run(path, alpha=0.05, steps=4, accuracy_after=0.6):
    path.mkdir(parents=True)
    with (path / "metrics.jsonl").open("w") as f:
        for step in range(1, steps + 1):
            f.write(json.dumps({
                "step": step, "loss": 0.1 * step, "lead/reward": -0.5 + 0.2 * step, "lead/accuracy": 0.1 * step,
                "lead/length_correct": 50.0 - step, "lead/length_incorrect": 60.0 - step,
                "lead/difficulty_weight": 1.2, "lead/unjudgeable_frac": 0.0,
                "completions/clipped_ratio": None if step == 1 else 0.25, "lead/generated_tokens": 900.0 + step,
                "dynamic/groups_trained": 4.0, "dynamic/rounds": 1.0 + step % 2, "dynamic/informative_share": 0.75,
            }) + "\n")
        f.write(json.dumps({"step": steps, "train_runtime": 12.5}) + "\n")  # the trainer's closing record
    (path / "summary.json").write_text(json.dumps({
        "method": "GRPO-LEAD", "steps": steps, "before": {"accuracy": 0.5, "mean_length": 58.25, "n": 8},
        "after": {"accuracy": accuracy_after, "mean_length": 31.5, "n": 8}}))
    (path / "resolved_config.yaml").write_text(yaml.safe_dump({"alpha": alpha, "seed": 0, "model": "tiny"}))
    return path


def _eval_run(path):
    path.mkdir(parents=True)
    bench = {"k": 4, "n_problems": 8, "pass@1": 0.375, "cons@k": 0.5, "pass@k": {"1": 0.375, "4": 0.75},
             "mean_length": 40.0, "mean_length_correct": 30.0, "mean_length_incorrect": 50.0,
             "truncated_rate": 0.125, "no_answer_rate": 0.0625, "unjudgeable": 0}
    (path / "summary.json").write_text(json.dumps({"model": "tiny", "benchmarks": {"arithmetic": bench}}))
    (path / "budget_curve.csv").write_text(
        "benchmark,budget,pass@1,cons@k,no_answer_rate,truncated_rate,mean_length\n"
        "arithmetic,16,0.125,0.25,0.5,0.5,16\narithmetic,32,0.25,0.375,0.25,0.25,28\n"
        "arithmetic,64,0.375,0.5,0.0625,0.125,40\n")
    return path


def _images(page: str) -> list[bytes]:
    return [base64.b64decode(b) for b in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)]


def test_one_training_run_shows_curves_before_after_and_config(tmp_path):
    run = _train_run(tmp_path / "lead")
    path = report.main([str(run)])
    assert path == run / "report.html"
    page = path.read_text()
    images = _images(page)
    assert len(images) == len(report.CURVES)  # every curve was logged
    import matplotlib.image

    for png in images:
        assert png.startswith(PNG_SIGNATURE)
        height, width, _ = matplotlib.image.imread(io.BytesIO(png), format="png").shape
        assert width > 300 and height > 200
    for title, key, _, _ in report.CURVES:
        assert title in page and key in page
    assert "50.0%" in page and "60.0%" in page  # accuracy before and after
    assert "58.2" in page and "31.5" in page  # mean length before and after
    assert "alpha: 0.05" in page  # the resolved configuration
    assert "<script" not in page and "http" not in page.split("</style>", 1)[1]  # self-contained, nothing fetched


def test_several_runs_overlay_and_config_differences_side_by_side(tmp_path):
    runs = [_train_run(tmp_path / "grpo", alpha=0.1), _train_run(tmp_path / "grpo-lead", alpha=0.05)]
    out = report.write_report(runs, tmp_path / "cmp.html")
    page = out.read_text()
    assert len(_images(page)) == len(report.CURVES)  # one figure per curve, both runs in it
    assert "Keys that differ between runs" in page
    table = page.split("Keys that differ between runs", 1)[1].split("</table>", 1)[0]
    assert "<td>alpha</td><td>0.1</td><td>0.05</td>" in table
    assert "seed" not in table


def test_directory_of_stages_and_evaluation_table(tmp_path):
    _train_run(tmp_path / "curriculum" / "stage-0")
    _train_run(tmp_path / "curriculum" / "stage-1")
    evaluation = _eval_run(tmp_path / "eval-lead")
    runs = report.find_runs([tmp_path / "curriculum", evaluation])
    assert [r.label for r in runs] == ["stage-0", "stage-1", "eval-lead"]
    page = report.render(runs)
    row = page.split("<td>arithmetic</td><td>eval-lead</td>", 1)[1].split("</tr>", 1)[0]
    assert row == ("<td>4</td><td>37.5%</td><td>50.0%</td><td>75.0%</td><td>40.0</td><td>30.0</td><td>50.0</td>"
                   "<td>12.5%</td><td>6.2%</td><td>0</td>")
    assert "Token-budget curve" in page
    assert len(_images(page)) == len(report.CURVES) + 1


def test_same_names_are_labelled_by_path(tmp_path):
    runs = report.find_runs([_train_run(tmp_path / "a" / "run"), _train_run(tmp_path / "b" / "run")])
    assert [r.label for r in runs] == [str(tmp_path / "a" / "run"), str(tmp_path / "b" / "run")]


def test_bad_run_directories_fail_naming_them(tmp_path, caplog):
    with pytest.raises(SystemExit) as exc:
        report.main([str(tmp_path / "missing")])
    assert exc.value.code == 2 and "missing: no such run directory" in caplog.text
    (tmp_path / "empty").mkdir()
    with pytest.raises(report.ReportError, match="empty: holds no metrics.jsonl"):
        report.find_runs([tmp_path / "empty"])
    run = _train_run(tmp_path / "broken")
    with (run / "metrics.jsonl").open("a") as f:
        f.write("{not json\n")
    with pytest.raises(report.ReportError, match="metrics.jsonl, line 6: not JSON"):
        report.find_runs([run])


def test_untrusted_text_is_escaped(tmp_path):
    run = _train_run(tmp_path / "run")
    (run / "resolved_config.yaml").write_text(yaml.safe_dump({"run_name": "<img src=x onerror=alert(1)>"}))
    page = report.render(report.find_runs([run]))
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt-get install chromium)")
def test_chromium_loads_every_figure(tmp_path):
    runs = [_train_run(tmp_path / "grpo"), _eval_run(tmp_path / "eval")]
    page = report.render(report.find_runs(runs))
    n_images = len(_images(page))
    assert _decoded_in_chromium(page, tmp_path) == (n_images, n_images)


def _decoded_in_chromium(page: str, tmp_path) -> tuple[int, int]:
    """(images decoded, images) once headless Chromium has loaded a copy of ``page`` that writes the
    counts into its title."""
    probe = ("<script>window.addEventListener('load', () => { const imgs = [...document.images]; "
             "document.title = 'decoded ' + imgs.filter(i => i.complete && i.naturalWidth > 0).length + ' of ' "
             "+ imgs.length; });</script></body>")
    check = tmp_path / "check.html"
    check.write_text(page.replace("</body>", probe))
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000", "--dump-dom",
         check.as_uri()], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    found = re.search(r"<title>decoded (\d+) of (\d+)</title>", result.stdout)
    assert found, result.stdout[-2000:]
    return int(found[1]), int(found[2])


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt-get install chromium)")
def test_chromium_opens_a_real_model_runs_report(smollm2_run, tmp_path):
    """The report a real model's run wrote (SmolLM2-135M-Instruct, a few steps): every figure decodes."""
    out, _ = smollm2_run
    page = (out / "report.html").read_text()
    n_images = len(_images(page))
    assert n_images >= 3 and "SmolLM2" in page
    assert _decoded_in_chromium(page, tmp_path) == (n_images, n_images)
