"""Build the shipped task sets (``data/*.csv``) from word lists written for this project.

Run ``python -m wattlm.tasks._make_sets`` to rewrite the files; the output is deterministic
(a fixed seed), and a test checks that the shipped files are exactly what this module writes.
Every sentence comes from the templates and word lists below (written for wattlm, Apache-2.0,
like the rest of the project); nothing is copied from an existing corpus. See
``data/SOURCES.md``.
"""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

__all__ = ["SETS", "build_all", "write_all"]

_SEED = 20261201

_POSITIVE = ["wonderful", "excellent", "great", "delightful", "brilliant", "lovely", "superb",
             "charming", "pleasant", "fantastic", "moving", "clever"]
_NEGATIVE = ["terrible", "awful", "boring", "dreadful", "dull", "poor", "disappointing",
             "horrible", "tedious", "weak", "clumsy", "painful"]
_SUBJECTS = ["the film", "the book", "the meal", "the concert", "the hotel", "the play",
             "the service", "the game", "the album", "the show", "the lecture", "the trip"]
_OPENERS = ["honestly", "overall", "in short", "to be fair", "frankly", "all in all"]


def _classification(rng: random.Random) -> list[dict[str, str]]:
    rows = []
    for subject in _SUBJECTS:
        for label, words in ((1, _POSITIVE), (0, _NEGATIVE)):
            for word in words:
                opener = rng.choice(_OPENERS)
                pattern = rng.randrange(3)
                if pattern == 0:
                    text = f"{subject} was {word}."
                elif pattern == 1:
                    text = f"{opener}, {subject} was {word}."
                else:
                    text = f"i thought {subject} was really {word}."
                rows.append({"text": text, "label": str(label),
                             "label_name": "positive" if label else "negative"})
    rng.shuffle(rows)
    return rows


_NAMES = ["Ada", "Bruno", "Chen", "Dara", "Elif", "Femi", "Greta", "Hugo", "Ines", "Jonas",
          "Kemal", "Lena", "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sami", "Tomas"]
_CITIES = ["Lyon", "Porto", "Oslo", "Nairobi", "Lima", "Osaka", "Quebec", "Krakow", "Cork",
           "Tunis", "Hobart", "Bergen"]
_JOBS = ["baker", "nurse", "pilot", "teacher", "plumber", "chemist", "farmer", "librarian",
         "carpenter", "dentist"]
_PETS = ["cat", "dog", "parrot", "rabbit", "tortoise", "goldfish"]
_PET_NAMES = ["Pip", "Biscuit", "Luna", "Milo", "Olive", "Rufus", "Ziggy", "Mango"]


def _qa(rng: random.Random) -> list[dict[str, str]]:
    rows = []
    for name in _NAMES:
        for _ in range(3):
            city, job = rng.choice(_CITIES), rng.choice(_JOBS)
            pet, pet_name = rng.choice(_PETS), rng.choice(_PET_NAMES)
            context = (f"{name} lives in {city} and works as a {job}. "
                       f"{name} has a {pet} called {pet_name}.")
            for question, answer in ((f"Where does {name} live?", city),
                                     (f"What is {name}'s job?", job),
                                     (f"What is the name of {name}'s {pet}?", pet_name),
                                     (f"What animal does {name} have?", pet)):
                rows.append({"question": question, "context": context, "answer": answer,
                             "answer_start": str(context.index(answer))})
    rng.shuffle(rows)
    return rows


_TEAMS = ["the Herons", "the Foxes", "the Comets", "the Pioneers", "the Otters", "the Rangers",
          "the Falcons", "the Wolves"]
_FILLER = ["The weather was cold and windy.", "Tickets sold out a week before.",
           "Fans travelled from across the region.", "The stadium was recently renovated.",
           "Local cafes stayed open late.", "The match was shown on regional television.",
           "Both coaches praised the crowd.", "Rain stopped shortly before kick-off."]


def _summarisation(rng: random.Random) -> list[dict[str, str]]:
    rows = []
    for _ in range(200):
        home, away = rng.sample(_TEAMS, 2)
        city = rng.choice(_CITIES)
        high, low = rng.randint(2, 6), rng.randint(0, 1)
        headline = f"{home} beat {away} {high} to {low} in {city}."
        fillers = rng.sample(_FILLER, 3)
        scorer = rng.choice(_NAMES)
        document = " ".join([fillers[0], f"On Saturday {home} played {away} in {city}.",
                             fillers[1], f"{scorer} scored first for {home}.",
                             f"The final score was {high} to {low}.", fillers[2]])
        rows.append({"document": document, "summary": headline})
    return rows


# (english, french, gender) - gender picks the French article and adjective form
_NOUNS = [("cat", "chat", "m"), ("dog", "chien", "m"), ("house", "maison", "f"),
          ("car", "voiture", "f"), ("book", "livre", "m"), ("table", "table", "f"),
          ("garden", "jardin", "m"), ("door", "porte", "f"), ("bread", "pain", "m"),
          ("city", "ville", "f"), ("hat", "chapeau", "m"), ("chair", "chaise", "f"),
          ("bike", "vélo", "m"), ("window", "fenêtre", "f"), ("boat", "bateau", "m"),
          ("shirt", "chemise", "f"), ("horse", "cheval", "m"), ("road", "route", "f")]
_ADJECTIVES = [("small", "petit", "petite"), ("big", "grand", "grande"),
               ("green", "vert", "verte"), ("black", "noir", "noire"),
               ("old", "vieux", "vieille"), ("new", "nouveau", "nouvelle"),
               ("pretty", "joli", "jolie"), ("red", "rouge", "rouge")]


def _translation(rng: random.Random) -> list[dict[str, str]]:
    rows = []
    for english, french, gender in _NOUNS:
        spaced = "le " if gender == "m" else "la "  # no noun starts with a vowel (no l')
        for adj_en, adj_m, adj_f in _ADJECTIVES:
            adj = adj_m if gender == "m" else adj_f
            rows.append({"source": f"The {english} is {adj_en}.",
                         "target": f"{spaced.capitalize()}{french} est {adj}.",
                         "source_lang": "en", "target_lang": "fr"})
            rows.append({"source": f"The {english} is not {adj_en}.",
                         "target": f"{spaced.capitalize()}{french} n'est pas {adj}.",
                         "source_lang": "en", "target_lang": "fr"})
        rows.append({"source": f"I see the {english}.", "target": f"Je vois {spaced}{french}.",
                     "source_lang": "en", "target_lang": "fr"})
        rows.append({"source": f"Where is the {english}?", "target": f"Où est {spaced}{french} ?",
                     "source_lang": "en", "target_lang": "fr"})
        rows.append({"source": f"I like the {english}.", "target": f"J'aime {spaced}{french}.",
                     "source_lang": "en", "target_lang": "fr"})
    rng.shuffle(rows)
    return rows


_COUNTRIES = [("France", "Paris", "Europe"), ("Kenya", "Nairobi", "Africa"),
              ("Japan", "Tokyo", "Asia"), ("Peru", "Lima", "South America"),
              ("Canada", "Ottawa", "North America"), ("Norway", "Oslo", "Europe"),
              ("Egypt", "Cairo", "Africa"), ("India", "New Delhi", "Asia"),
              ("Chile", "Santiago", "South America"), ("Mexico", "Mexico City", "North America"),
              ("Portugal", "Lisbon", "Europe"), ("Ghana", "Accra", "Africa"),
              ("Vietnam", "Hanoi", "Asia"), ("Brazil", "Brasilia", "South America"),
              ("Cuba", "Havana", "North America"), ("Poland", "Warsaw", "Europe"),
              ("Senegal", "Dakar", "Africa"), ("Nepal", "Kathmandu", "Asia"),
              ("Uruguay", "Montevideo", "South America"), ("Ireland", "Dublin", "Europe"),
              ("Morocco", "Rabat", "Africa"), ("Thailand", "Bangkok", "Asia"),
              ("Colombia", "Bogota", "South America"), ("Greece", "Athens", "Europe"),
              ("Tunisia", "Tunis", "Africa"), ("Mongolia", "Ulaanbaatar", "Asia"),
              ("Austria", "Vienna", "Europe"), ("Ethiopia", "Addis Ababa", "Africa"),
              ("Finland", "Helsinki", "Europe"), ("Jamaica", "Kingston", "North America")]


def _generation(rng: random.Random) -> list[dict[str, str]]:
    rows = []
    for country, capital, continent in _COUNTRIES:
        pairs = [(f"What is the capital of {country}?", f"The capital of {country} is {capital}."),
                 (f"Which continent is {country} in?", f"{country} is in {continent}."),
                 (f"I am visiting {capital} next week. Which country is that?",
                  f"{capital} is the capital of {country}."),
                 (f"Tell me one city in {country}.", f"One city in {country} is {capital}.")]
        for question, reply in pairs:
            rows.append({"prompt": f"User: {question}\nAssistant:", "reference": reply})
    for english, french, _ in _NOUNS:
        rows.append({"prompt": f"User: How do I say {english} in French?\nAssistant:",
                     "reference": f"{english} in French is {french}."})
    rng.shuffle(rows)
    return rows


_SYNONYMS = [("big", "large"), ("small", "little"), ("quick", "fast"), ("happy", "glad"),
             ("begin", "start"), ("buy", "purchase"), ("help", "assist"), ("end", "finish")]
_ACTORS = ["the boy", "the woman", "my friend", "the teacher", "our neighbour", "the pilot"]
_ACTIONS = [("bought a {a} house", "purchased a {b} house"),
            ("saw a {a} dog", "noticed a {b} dog"),
            ("wanted to {a} early", "wished to {b} early"),
            ("was very {a} today", "felt really {b} today")]


def _similarity(rng: random.Random) -> list[dict[str, str]]:
    rows = []
    for actor in _ACTORS:
        for a, b in _SYNONYMS:
            left_t, right_t = rng.choice(_ACTIONS)
            left = f"{actor} {left_t.format(a=a)}."
            rows.append({"sentence1": left, "sentence2": f"{actor} {right_t.format(b=b)}.",
                         "score": "4.5"})
            rows.append({"sentence1": left, "sentence2": f"{actor} {left_t.format(a=a)}.",
                         "score": "5.0"})
            other = rng.choice([x for x in _ACTORS if x != actor])
            rows.append({"sentence1": left, "sentence2": f"{other} {left_t.format(a=a)}.",
                         "score": "3.0"})
            city, job = rng.choice(_CITIES), rng.choice(_JOBS)
            rows.append({"sentence1": left,
                         "sentence2": f"a {job} moved to {city} last spring.",
                         "score": "0.5"})
            subject, word = rng.choice(_SUBJECTS), rng.choice(_POSITIVE + _NEGATIVE)
            rows.append({"sentence1": f"{subject} was {word}.",
                         "sentence2": f"{actor} {right_t.format(b=b)}.", "score": "0.0"})
            rows.append({"sentence1": f"{subject} was {word}.",
                         "sentence2": f"{subject} seemed {word}.", "score": "4.0"})
    rng.shuffle(rows)
    return rows


SETS = {
    "classification": (_classification, ("text", "label", "label_name")),
    "qa": (_qa, ("question", "context", "answer", "answer_start")),
    "summarisation": (_summarisation, ("document", "summary")),
    "translation": (_translation, ("source", "target", "source_lang", "target_lang")),
    "generation": (_generation, ("prompt", "reference")),
    "similarity": (_similarity, ("sentence1", "sentence2", "score")),
}
"""task name -> (builder, CSV columns)"""


def build_all() -> dict[str, str]:
    """File name -> CSV text of every shipped task set."""
    out = {}
    for name, (builder, columns) in SETS.items():
        rows = builder(random.Random(f"{_SEED}-{name}"))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        out[f"{name}.csv"] = buffer.getvalue()
    return out


def write_all(folder: Path | None = None) -> list[Path]:
    """Write every set into ``folder`` (default: the package's ``data/``)."""
    target = folder or Path(__file__).resolve().parent / "data"
    written = []
    for file_name, text in build_all().items():
        path = target / file_name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":  # pragma: no cover
    for written_path in write_all():
        print(written_path)
