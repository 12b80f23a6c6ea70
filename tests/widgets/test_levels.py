from strata.widgets.levels import LEVELS, level_color, level_name, level_text_color, normalize_level


def test_every_level_has_its_own_colour_and_name():
    colours = {level_color(level).name() for level in LEVELS}
    names = {level_name(level) for level in LEVELS}
    assert len(colours) == len(LEVELS)
    assert names == {"Layout", "Object", "Attribute", "Colour", "Unknown"}


def test_hues_follow_the_house_scheme():
    def hue(level):
        return level_color(level).hsvHue()

    assert 200 <= hue("layout") <= 240  # blue
    assert 120 <= hue("object") <= 160  # green
    assert 20 <= hue("attribute") <= 40  # orange
    assert 280 <= hue("colour") <= 320  # magenta
    assert level_color("unknown").hsvSaturation() < 40  # grey


def test_spellings_from_other_tools_are_understood():
    assert normalize_level("Color") == "colour"
    assert normalize_level(" LAYOUT ") == "layout"
    assert normalize_level(None) == "unknown"
    assert normalize_level("texture") == "unknown"
    assert level_color("color") == level_color("colour")
    assert level_color("texture") == level_color("unknown")


def test_chip_text_contrasts_with_the_level_colour():
    for level in LEVELS:
        bg, fg = level_color(level), level_text_color(level)
        assert abs(bg.lightness() - fg.lightness()) > 80, level
