# Sourced by scripts/run and scripts/test: a virtual environment with the project installed.
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv with $($python --version)"
  "$python" -m venv .venv
  .venv/bin/pip install -q --upgrade pip
fi
stamp=.venv/.installed-$(cat pyproject.toml | cksum | cut -d' ' -f1)
if [ ! -f "$stamp" ]; then
  echo "== installing the project and its dependencies into .venv"
  .venv/bin/pip install -q -e '.[dev]'
  touch "$stamp"
fi
