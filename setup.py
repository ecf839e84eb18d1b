"""The build step pyproject.toml cannot say: the numbered notebooks go into the package (`rebeca/nbs/`), so that
`rebeca reproduce` runs from an installed wheel or sdist, outside any clone. The notebooks live once, in `nbs/`."""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithNotebooks(build_py):
    "build_py that also copies `nbs/**/*.ipynb` into the built package as `rebeca/nbs/`."
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False): return          # an editable install runs the clone's own nbs/
        src, dst = Path(__file__).parent/"nbs", Path(self.build_lib)/"rebeca"/"nbs"
        for nb in sorted(src.rglob("*.ipynb")):
            rel = nb.relative_to(src)
            if any(part.startswith((".", "_")) for part in rel.parts): continue
            (dst/rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(nb, dst/rel)


setup(cmdclass={"build_py": BuildWithNotebooks})
