"""The words of the bundled city guide (examples/city_guide/): reviews, menus and speech.

Fictional places; all text written for this project (Apache-2.0, like the code).
Used by scripts/make_city_guide.py.
"""

PLACES: dict[str, dict] = {
    "sunny_side": {
        "name": "Sunny Side Cafe",
        "review": """
# Sunny Side Cafe

A calm corner cafe with three tall windows facing south. On a weekend morning the dining room
is flooded with natural light and it stays quiet enough to read: no music, just soft chatter.

The vegan brunch is the reason to come: tofu scramble on sourdough, oat-milk pancakes with
berries, and a very good flat white with oat milk. Four stars for the food, five for the light.
""",
        "menu": [
            "VEGAN BRUNCH MENU",
            "Tofu scramble on sourdough    9.50",
            "Oat milk pancakes, berries    8.00",
            "Avocado and chickpea toast    8.50",
            "Flat white (oat milk)         3.20",
        ],
    },
    "night_owl": {
        "name": "Night Owl Bistro",
        "review": """
# Night Owl Bistro

A basement bistro with no windows, lit by a few amber lamps, so it is dark even at noon.
They serve a vegan brunch on Saturdays (the smoky tempeh hash is excellent), but the room is
packed and very loud: music, clattering plates and shouting across tables.
""",
        "menu": [
            "SATURDAY BRUNCH",
            "Smoky tempeh hash (vegan)     10.00",
            "Eggs Benedict                 11.50",
            "Bloody Mary                    7.00",
        ],
    },
    "harbour_grill": {
        "name": "Harbour Grill",
        "review": """
# Harbour Grill

A seafood grill on the quay with exposed brick walls. Grilled mackerel, chips and oysters;
nothing vegan apart from the chips. Busy and noisy at dinner time, with a bright terrace in summer.
""",
    },
    "cat_corner": {
        "name": "Cat Corner Cafe",
        "review": """
# Cat Corner Cafe

A cat cafe: Chelsea the tabby sleeps on the windowsill and purrs at the guests. Cakes,
coffee and tea; the cakes contain eggs and butter. A small, dim room but peaceful.
""",
    },
    "garden_terrace": {
        "name": "Garden Terrace",
        "review": """
# Garden Terrace

An open-air terrace on a lawn, in full sun all day, with birdsong in the trees. They grill
sausages and burgers at lunch; there is no brunch and no vegan dish on the menu.
""",
    },
}

SPOKEN_REVIEW = (  # worded so that Whisper tiny.en transcribes espeak-ng's voice correctly
    "I had breakfast at the sunny side cafe last Sunday. "
    "The vegan brunch was lovely: tofu scramble and oat milk pancakes. "
    "The room was quiet and full of natural light from the big windows. "
    "I will be back."
)

CHATTER_LINES = [
    "Can we get two more coffees over here please",
    "No way, she said that to you at the party",
    "Table six is waiting for the check",
    "Happy birthday, happy birthday to you",
    "I will have the eggs and a large orange juice",
]
