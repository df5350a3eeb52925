"""The catalogues are compiled when the package is built: a wheel carries bot/locale/*/LC_MESSAGES/
wgbot.mo beside each .po, and bot/i18n.py reads the compiled one. The .mo files are never
committed; a checkout without them (an editable install) compiles each .po in memory instead.
Everything else about the package is in pyproject.toml."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithCatalogues(build_py):
    def run(self) -> None:
        super().run()
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        for po in sorted(Path("bot/locale").glob("*/LC_MESSAGES/*.po")):
            code = po.parts[2]
            with po.open("rb") as source:
                catalog = read_po(source, locale=code)
            target = Path(self.build_lib) / po.with_suffix(".mo")
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("wb") as compiled:
                write_mo(compiled, catalog)


setup(cmdclass={"build_py": BuildWithCatalogues})
