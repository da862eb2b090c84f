# Sourced by scripts/run and scripts/test: a virtual environment holding exactly the pinned,
# hash-checked dependencies of $lock_file (set by the caller), and the project, editable.
python=${PYTHON:-python3}
lock_file=${lock_file:-requirements.lock}
if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv with $($python --version)"
  "$python" -m venv .venv
fi
# Reinstall whenever the lock file or the project's metadata (entry points) changes.
stamp=.venv/.installed-$(cat "$lock_file" pyproject.toml | cksum | cut -d' ' -f1)
if [ ! -f "$stamp" ]; then
  echo "== installing $lock_file and the project into .venv"
  .venv/bin/pip install -q --require-hashes -r "$lock_file"
  # The lock holds hatchling, so the build needs nothing from the network.
  .venv/bin/pip install -q --no-deps --no-build-isolation -e .
  touch "$stamp"
fi
