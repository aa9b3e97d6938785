from pathlib import Path

import matplotlib.figure
import pytest

from l4sim.analysis.figure_review import review

SCENARIOS = Path(__file__).parents[2] / "scenarios"
# names a figure may show as they are: the scenarios' (a title says which one ran)
SCENARIO_NAMES = {path.stem for path in SCENARIOS.glob("*.toml")} | {"mine"}


class Reviewed(dict):
    """File name -> the reviewer's problems, for every PNG written while it is in use.

    ``nonnegative``: the figures plot quantities that cannot be negative (cycles,
    shares, counts: every figure but a claim's robustness).
    """

    nonnegative = True

    def __init__(self):
        super().__init__()
        self.texts: dict[str, list[str]] = {}  # file name -> the texts drawn on the figure


@pytest.fixture
def reviewed(monkeypatch):
    """Review every PNG a drawing function writes, as it is saved.

    With the caption the file's metadata carries.
    """
    found = Reviewed()
    save = matplotlib.figure.Figure.savefig

    def reviewing(figure, name, *args, **options):
        if str(name).endswith(".png"):
            caption = (options.get("metadata") or {}).get("Description", "")
            found[Path(name).name] = review(
                figure, caption, SCENARIO_NAMES, nonnegative=found.nonnegative
            )
            found.texts[Path(name).name] = [text.get_text() for text in figure.texts]
        return save(figure, name, *args, **options)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", reviewing)
    return found
