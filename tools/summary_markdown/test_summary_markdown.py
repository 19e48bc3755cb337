"""`fleet run --summary` against hostile data, rendered by a real CommonMark
renderer (markdown-it-py, HTML enabled): for_each keys, instance names and
labels, the fleet's target, terraform's error text and the base the change is
measured against are shown as code and never become a link, an image,
emphasis or an HTML element.

The summary comes from the real helper ($FLEET_HELPER) planning with the real
terraform (PATH) a fleet written here: no Bazel is needed, the manifest is
what the rules would write.

  FLEET_HELPER=target/release/fleet python3 -m unittest discover -s tools/summary_markdown -p 'test_*.py'
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import markdown_check  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HELPER = os.environ.get("FLEET_HELPER", os.path.join(ROOT, "target", "release", "fleet"))

HOSTILE_KEYS = [
    "[Approve](https://evil.example)",
    "![x](https://evil.example/pixel.png)",
    "**LGTM**",
    "<img src=x>",
    "</details><script>alert(1)</script>",
    "_em_ and *em*",
    "~~strike~~",
    "https://evil.example/autolink",
    "<https://evil.example/angle>",
    "`",
    "``lead",
    "trail``",
    "a ``` b ```` c",
    " ` spaced ` ",
    "pipe | in | key",
    "back\\|slash",
    "line\nbreak",
    "&amp; &lt;b&gt;",
]

# A name with a table's cell separator, escaped and not.
SAME_NAME = "<img src=x onerror=alert(1)> | a\\|b ``"

KEYS_MODULE = """
variable "keys" {
  type = list(string)
}
resource "terraform_data" "k" {
  for_each = toset(var.keys)
  input    = each.key
}
output "n" {
  value = length(var.keys)
}
"""

FAILING_MODULE = """
variable "v" {
  type    = string
  default = "x"
  validation {
    condition     = var.v == "never"
    error_message = "Bad: ```` </details> [Approve](https://evil.example) **LGTM** <img src=x> ``x``."
  }
}
"""

BACKEND = {"terraform": {"backend": {"local": {"path": "terraform.tfstate"}}}}


class SummaryMarkdown(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="summary-md.")
        self.runfiles = os.path.join(self.tmp, "runfiles")
        self.workspace = os.path.join(self.tmp, "ws")
        os.makedirs(self.workspace)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def render(self, name, main_tf, tfvars=None):
        rel = f"pkg/{name}.rendered"
        d = os.path.join(self.runfiles, rel)
        os.makedirs(d)
        with open(os.path.join(d, "main.tf"), "w") as f:
            f.write(main_tf)
        with open(os.path.join(d, "backend.tf.json"), "w") as f:
            json.dump(BACKEND, f)
        if tfvars is not None:
            with open(os.path.join(d, "terraform.tfvars.json"), "w") as f:
                json.dump(tfvars, f)
        return rel

    def instance(self, run_dir, label, name, rendered, identity=None):
        entry = {"label": label, "name": name, "rendered": rendered, "run_dir": run_dir}
        if identity:
            entry["identity"] = identity
        return entry

    def fleet(self):
        keys = self.render("keys", KEYS_MODULE, {"keys": HOSTILE_KEYS})
        same = self.render("same", KEYS_MODULE, {"keys": HOSTILE_KEYS})
        fails = self.render("fails", FAILING_MODULE)
        kept = self.render("kept", KEYS_MODULE, {"keys": []})
        instances = [
            self.instance("pkg/keys", "//pkg:**LGTM**", "**LGTM**", keys),
            self.instance("pkg/same", "//pkg:same", SAME_NAME, same),
            self.instance("pkg/fails", "//pkg:[Approve](https://evil.example)", "[Approve](https://evil.example)", fails),
            self.instance("pkg/kept", "//pkg:![x](https://evil.example/pixel.png)", "![x](https://evil.example/pixel.png)", kept, "same"),
        ]
        manifest = {
            "schema": 1,
            "target": "//pkg:__LGTM__<b>all</b>",
            "terraform": shutil.which("terraform"),
            "instances": instances,
        }
        path = os.path.join(self.tmp, "manifest.json")
        with open(path, "w") as f:
            json.dump(manifest, f)
        base = {
            "schema": 1,
            "instances": [
                {"label": "//pkg:![x](https://evil.example/pixel.png)", "identity": "same"},
                {"label": "//pkg:<b>gone</b> **LGTM**", "identity": "old"},
            ],
        }
        base_path = os.path.join(self.tmp, "[Approve](javascript:alert(1)) **LGTM** <img src=x>.json")
        with open(base_path, "w") as f:
            json.dump(base, f)
        return path, base_path

    def test_hostile_data_is_shown_as_code_and_never_becomes_markup(self):
        self.assertIsNotNone(shutil.which("terraform"), "terraform must be on PATH")
        manifest, base = self.fleet()
        summary = os.path.join(self.tmp, "summary.md")
        report = os.path.join(self.tmp, "report.json")
        env = dict(os.environ)
        env.pop("TF_CLI_CONFIG_FILE", None)
        env.pop("BUILD_WORKSPACE_DIRECTORY", None)
        result = subprocess.run(
            [HELPER, "run", "--action", "plan", "--manifest", manifest, "--runfiles", self.runfiles,
             "--workspace-root", self.workspace, "--summary", summary, "--report", report,
             "--affected-base-manifest", base],
            capture_output=True, text=True, env=env, cwd=self.tmp, check=False)
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        with open(summary, encoding="utf-8") as f:
            text = f.read()
        with open(report, encoding="utf-8") as f:
            ran = json.load(f)
        addresses = [
            r["address"]
            for inst in ran["instances"]
            for r in (inst.get("resource_changes") or {}).get("resources", [])
        ]
        self.assertEqual(len(addresses), 2 * len(HOSTILE_KEYS), ran)
        data = addresses + [
            "**LGTM**",
            SAME_NAME,
            "[Approve](https://evil.example)",
            "![x](https://evil.example/pixel.png)",
            "//pkg:<b>gone</b> **LGTM**",
            "//pkg:__LGTM__<b>all</b>",
            "[Approve](javascript:alert(1)) **LGTM** <img src=x>.json",
            "</details> [Approve](https://evil.example) **LGTM** <img src=x>",
        ]
        found = markdown_check.problems(text, data)
        self.assertEqual(found, [], "\n".join(found) + "\n--- summary\n" + text)

    def test_the_check_finds_markup_made_from_data(self):
        bad = [
            ("- <code>[a](https://evil.example)</code> update\n", "[a](https://evil.example)"),
            ("| `a` | b |\n| --- | --- |\n| `x` ![p](https://e/p.png) | c |\n", "![p](https://e/p.png)"),
            ("Affected since **LGTM**: 1 changed\n", "**LGTM**"),
            ("**`n`**\n\n<img src=x>\n", "<img src=x>"),
            ("`a`b` c", "a`b"),
        ]
        for text, data in bad:
            self.assertNotEqual(markdown_check.problems(text, [data]), [], text)
        self.assertEqual(markdown_check.problems("`` a`b ``\n", ["a`b"]), [])


if __name__ == "__main__":
    unittest.main()
