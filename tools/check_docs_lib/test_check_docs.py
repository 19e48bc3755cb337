"""tools/check_docs against a temp copy of rules/, docs/ and README.md with one drift
each: it must pass on the copy as it is and fail, naming the culprit, on each
change. The CLI half runs the real helper ($FLEET_HELPER).

  FLEET_HELPER=target/release/fleet python3 -m unittest discover -s tools/check_docs_lib -p 'test_*.py'
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HELPER = os.environ.get("FLEET_HELPER", os.path.join(ROOT, "target", "release", "fleet"))


class CheckDocsDrift(unittest.TestCase):
    def setUp(self):
        self.copy = tempfile.mkdtemp(prefix="check-docs.")
        for part in ("rules", "docs", "tools"):
            shutil.copytree(os.path.join(ROOT, part), os.path.join(self.copy, part), symlinks=True)
        shutil.copy(os.path.join(ROOT, "README.md"), self.copy)
        os.makedirs(os.path.join(self.copy, "e2e"))
        shutil.copy(os.path.join(ROOT, "e2e", "README.md"), os.path.join(self.copy, "e2e"))
        # Paths the documents name (tests holding invariants): linked, not copied.
        for part in ("src", "tests", "bench"):
            os.symlink(os.path.join(ROOT, part), os.path.join(self.copy, part))
        for entry in os.listdir(os.path.join(ROOT, "e2e")):
            if entry != "README.md":
                os.symlink(os.path.join(ROOT, "e2e", entry), os.path.join(self.copy, "e2e", entry))

    def tearDown(self):
        shutil.rmtree(self.copy)

    def run_checker(self, helper=HELPER):
        result = subprocess.run(
            [sys.executable, os.path.join(self.copy, "tools", "check_docs"), "--root", self.copy, "--helper", helper],
            capture_output=True, text=True, check=False)
        return result.returncode, result.stdout + result.stderr

    def edit(self, path, old, new):
        full = os.path.join(self.copy, path)
        with open(full, encoding="utf-8") as f:
            text = f.read()
        self.assertIn(old, text, f"{path} no longer holds the text this test edits")
        with open(full, "w", encoding="utf-8") as f:
            f.write(text.replace(old, new, 1))

    def assert_fails_with(self, message):
        code, output = self.run_checker()
        self.assertEqual(code, 1, output)
        self.assertIn(message, output)

    def test_the_copy_as_it_is_passes(self):
        code, output = self.run_checker()
        self.assertEqual(code, 0, output)
        self.assertIn("check-docs: 6 passed, 0 failed", output)

    def test_an_invariant_test_that_does_not_exist(self):
        self.edit("docs/architecture.md", "`tests/it/tag_verify.rs`", "`tests/it/tag_verified.rs`")
        self.assert_fails_with("FAIL docs/architecture.md: names tests/it/tag_verified.rs: no such file or directory")

    def test_a_rule_attribute_added_without_docs(self):
        self.edit("rules/private/fleet_tools.bzl", "attrs = {", 'attrs = {\n        "compression": attr.string(doc = "new"),')
        self.assert_fails_with("FAIL fleet_tools: compression is not documented in docs/rules.md")

    def test_a_macro_parameter_added_without_docs(self):
        self.edit("rules/private/tf_instances.bzl", "def tf_instances(name, component, instances,",
                  "def tf_instances(name, component, instances, spread = 1,")
        self.assert_fails_with("FAIL tf_instances: spread is not documented in docs/rules.md")

    def test_a_documented_attribute_that_does_not_exist(self):
        self.edit("docs/rules.md", "| `archive` |", "| `archive_format` | gone |\n| `archive` |")
        self.assert_fails_with("FAIL fleet_tools: docs/rules.md lists archive_format, which does not exist")

    def test_a_rule_without_a_heading(self):
        self.edit("docs/rules.md", "### `fleet_tools`", "### The tools bundle")
        self.assert_fails_with("FAIL fleet_tools: docs/rules.md has no heading naming `fleet_tools`")

    def test_a_buck2_attribute_added_without_docs(self):
        self.edit("rules/buck2/fleet_tools.bzl", "attrs = {", 'attrs = {\n        "compression": attrs.string(doc = "new"),')
        self.assert_fails_with("FAIL fleet_tools (Buck2): compression is not documented in docs/rules.md or docs/buck2.md")

    def test_a_bazel_attribute_missing_from_buck2_unnamed(self):
        self.edit("docs/buck2.md", "- No `providers`, `lock_platforms`,", "- No `lock_platforms`,")
        self.assert_fails_with("FAIL tf_component (Buck2): lacks the Bazel attribute providers, which docs/buck2.md does not name")

    def test_a_buck2_rule_without_a_heading(self):
        self.edit("docs/buck2.md", "### `fleet_verify`", "### Verification")
        self.assert_fails_with("FAIL fleet_verify: docs/buck2.md has no heading naming `fleet_verify`")

    def test_a_flag_of_the_helper_missing_from_the_docs(self):
        doc = os.path.join(self.copy, "docs", "cli.md")
        with open(doc, encoding="utf-8") as f:
            text = f.read()
        # As if --fail-fast were new: no line of cli.md mentions it.
        with open(doc, "w", encoding="utf-8") as f:
            f.write(re.sub(r"--fail-fast", "--stop-early", text))
        code, output = self.run_checker()
        self.assertEqual(code, 1, output)
        self.assertIn("FAIL fleet run: --fail-fast is not documented in docs/cli.md", output)
        self.assertIn("FAIL fleet run: docs/cli.md lists --stop-early, which does not exist", output)

    def test_a_subcommand_without_a_heading(self):
        self.edit("docs/cli.md", "## `fleet gc`", "## Garbage collection")
        self.assert_fails_with("FAIL fleet gc: docs/cli.md has no heading naming `fleet gc`")

    def test_a_link_to_a_missing_file_or_heading(self):
        self.edit("docs/glossary.md", "(rules.md#bazel-providers)", "(rules.md#starlark-providers)")
        self.edit("docs/install.md", "(rules.md#set-up)", "(setup.md)")
        code, output = self.run_checker()
        self.assertEqual(code, 1, output)
        self.assertIn("FAIL docs/glossary.md: link to rules.md#starlark-providers: no heading with that anchor", output)
        self.assertIn("FAIL docs/install.md: link to setup.md: no such file", output)

    def planted_flag_helper(self, sub, line):
        """A helper that is the real one but for one more line in `fleet SUB --help`'s options."""
        fake = os.path.join(self.copy, "fake-fleet")
        with open(fake, "w", encoding="utf-8") as f:
            f.write(f"""#!{sys.executable}
import subprocess, sys
out = subprocess.run([{HELPER!r}] + sys.argv[1:], capture_output=True, text=True)
text = out.stdout
if sys.argv[1:] == [{sub!r}, "--help"]:
    text = text.replace("Options:\\n", "Options:\\n" + {line!r} + "\\n", 1)
sys.stdout.write(text)
sys.stderr.write(out.stderr)
sys.exit(out.returncode)
""")
        os.chmod(fake, 0o755)
        return fake

    def test_a_flag_named_with_a_synonym(self):
        helper = self.planted_flag_helper("run", "      --concurrency <N>  At most N instances at once")
        with open(os.path.join(self.copy, "docs", "cli.md"), "a", encoding="utf-8") as f:
            f.write("\n## `fleet run` again\n\n| `--concurrency N` | planted |\n")
        code, output = self.run_checker(helper)
        self.assertEqual(code, 1, output)
        self.assertIn("FAIL fleet run --concurrency: named with `concurrency`, a synonym of `parallelism`", output)
        self.assertNotIn("is not documented", output)

    def test_a_flag_synonym_on_another_command(self):
        helper = self.planted_flag_helper("run", "      --instance <NAME>  Only this one")
        with open(os.path.join(self.copy, "docs", "cli.md"), "a", encoding="utf-8") as f:
            f.write("\n## `fleet run` again\n\n| `--instance NAME` | planted, deprecated |\n")
        self.assert_fails_with_helper(helper, "FAIL fleet run --instance: named with `--instance`, a synonym of `--only`")

    def test_a_flag_synonym_of_one_command_only(self):
        # `--lock` is a flock on run-locked (fine) but the lock file on lock-file.
        helper = self.planted_flag_helper("lock-file", "      --lock <FILE>  The lock file")
        with open(os.path.join(self.copy, "docs", "cli.md"), "a", encoding="utf-8") as f:
            f.write("\n## `fleet lock-file` again\n\n| `--lock FILE` | planted |\n")
        code, output = self.run_checker(helper)
        self.assertEqual(code, 1, output)
        self.assertIn("FAIL fleet lock-file --lock: named with `fleet lock-file --lock`, a synonym of `--lock-file`", output)
        self.assertNotIn("fleet run-locked --lock:", output)

    def assert_fails_with_helper(self, helper, message):
        code, output = self.run_checker(helper)
        self.assertEqual(code, 1, output)
        self.assertIn(message, output)

    def test_a_rule_attribute_named_with_a_synonym(self):
        self.edit("rules/private/fleet_tools.bzl", "attrs = {", 'attrs = {\n        "max_concurrency": attr.int(doc = "new"),')
        self.edit("docs/rules.md", "| `archive` |", "| `max_concurrency` | planted |\n| `archive` |")
        self.assert_fails_with("FAIL fleet_tools(max_concurrency): named with `concurrency`, a synonym of `parallelism`")

    def test_a_buck2_macro_named_with_a_synonym(self):
        self.edit("rules/buck2/defs.bzl", "tf_instance_set = _tf_instance_set", "tf_instance_set = _tf_instance_set\n\nfleet_instance_group = _tf_instance_set")
        self.assert_fails_with("FAIL fleet_instance_group: named with `instance_group`, a synonym of `instance_set`")

    def test_only_a_declared_deprecated_alias_may_keep_the_old_name(self):
        self.edit("docs/glossary.md", "| `concurrency` | `tf_group(concurrency)` |", "| `concurrency` | |")
        self.assert_fails_with("FAIL tf_group(concurrency): named with `concurrency`, a synonym of `parallelism`")

    def test_a_doc_teaching_a_synonym(self):
        self.edit("docs/groups.md", "    parallelism = 3,", "    concurrency = 3,")
        self.assert_fails_with("uses `concurrency` without saying it is deprecated; the word is parallelism")


if __name__ == "__main__":
    unittest.main()
