"""The README says what ``python -m posemotion demo`` does."""

from pathlib import Path

from posemotion.cli.pose import DEMO_OUT
from posemotion.models.core.resources import DEMO_CLIP
from posemotion.models.forecasting.inference import DEMO_FORECAST_CLIP, DEMO_FORECAST_TEXT

README = Path(__file__).resolve().parents[2] / "README.md"


def _demo_paragraph() -> str:
    """The paragraph just above the code block that runs the demo, on one line."""
    paragraphs = README.read_text().split("\n\n")
    block = next(i for i, p in enumerate(paragraphs) if p.startswith("```") and "python -m posemotion demo" in p)
    return " ".join(paragraphs[block - 1].split())


def test_readme_demo_paragraph_matches_the_code():
    paragraph = _demo_paragraph()
    assert f'"{DEMO_FORECAST_TEXT}"' in paragraph
    for package, *_, name in (DEMO_CLIP, DEMO_FORECAST_CLIP):
        assert f"`{package.lower()}`" in paragraph and f"`{name}`" in paragraph
    assert f"`{DEMO_OUT}/`" in paragraph and f"`{DEMO_OUT}/forecast.mp4`" in paragraph
