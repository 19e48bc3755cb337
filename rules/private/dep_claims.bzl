"""An instance's state address and run directory, checked against its direct dependencies'.

Pure Starlark, loaded by both rule sets (Bazel and Buck2).
"""

load(":run_dirs.bzl", "check_run_dirs", "run_dir_claim")
load(":state_identity.bzl", "check_unique_states", "state_claim")

def check_against_deps(label, address, fleet_root, run_dir, deps):
    """Fails naming both labels when the instance shares its state, or its run directory (equal or nested), with a direct dependency.

    Only the direct dependencies: flattening the whole upstream at every
    instance costs the square of a chain's length (a chain of 10,000 is 50
    million claims). The whole closure is checked once where instances are
    gathered to run together (`tf_fleet`, `tf_instances`), and `fleet` refuses
    shared or nested run directories when it loads a manifest.

    Args:
      label: the instance's label string.
      address: its state address (state_identity.state_address).
      fleet_root: its fleet root.
      run_dir: its run directory under the fleet root.
      deps: the TfInstanceInfo of its direct dependencies.
    """
    check_unique_states(
        [state_claim(address, label)] + [state_claim(dep.state_address, dep.label) for dep in deps],
        label,
    )
    check_run_dirs(
        [run_dir_claim(fleet_root, run_dir, label)] + [run_dir_claim(dep.fleet_root, dep.run_dir, dep.label) for dep in deps],
        label,
    )
