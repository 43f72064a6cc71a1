"""Readable visitor labels ("pretty-eyes-95") derived deterministically from a visitor id.

Reproduces Opencom's algorithm (data-model Appendix A) so dashboards show the same label for the
same id: a 32-bit FNV-1a hash of the id's UTF-16 code units picks an adjective, a noun and a
two-digit number. The word lists are ordered data and must stay in this order.
"""

ADJECTIVES = """
    afraid all beige better big blue bold brave breezy bright brown bumpy busy calm chatty chilly
    chubby clean clear clever cold common cool cozy crisp cuddly curly curvy cute cyan dark deep
    dirty dry dull eager early easy eight eighty eleven empty every fair famous fancy fast few fiery
    fifty fine five flat floppy fluffy forty four frank free fresh fruity full funky funny fuzzy
    gentle giant gold good goofy great green grumpy happy heavy hip honest hot huge humble hungry
    icy itchy jolly khaki kind large late lazy legal lemon light little long loose loud lovely lucky
    major many metal mighty modern moody neat new nice nine ninety odd old olive open orange perky
    petite pink plain plenty polite pretty proud public puny purple quick quiet rare ready real red
    rich ripe salty seven shaggy shaky sharp shiny short shy silent silly silver six sixty slick
    slimy slow small smart smooth social soft solid some sour sparkly spicy spotty stale strict
    strong sunny sweet swift tall tame tangy tasty ten tender thick thin thirty three tidy tiny
    tired tough tricky true twelve twenty two upset vast violet wacky warm wet whole wicked wide
    wild wise witty yellow young yummy
""".split()

NOUNS = """
    actors ads adults aliens animals ants apes apples areas baboons badgers bags balloons bananas
    banks bars baths bats beans bears beds beers bees berries bikes birds boats bobcats books
    bottles boxes breads brooms buckets bugs buses bushes buttons camels cameras candies candles
    canyons carpets carrots cars cases cats chairs chefs chicken cities clocks cloths clouds clowns
    clubs coats cobras coins colts comics cooks corners cougars cows crabs crews cups cycles dancers
    days deer deserts dingos dodos dogs dolls donkeys donuts doodles doors dots dragons drinks
    dryers ducks eagles ears eels eggs emus ends experts eyes facts falcons fans feet files flies
    flowers forks foxes friends frogs games garlics geckos geese ghosts gifts glasses goats grapes
    groups guests hairs hands hats heads hoops hornets horses hotels hounds houses humans icons
    ideas impalas insects islands items jars jeans jobs jokes keys kids kings kiwis knives lamps
    lands laws lemons lies lights lilies lines lions lizards llamas loops mails mammals mangos maps
    masks meals melons memes meteors mice mirrors moles moments monkeys months moons moose mugs
    nails needles news nights numbers olives onions oranges otters owls pandas pans pants papayas
    papers parents parks parrots parts paths paws peaches pears peas pens pets phones pianos pigs
    pillows places planes planets plants plums poems poets points pots pugs pumas queens rabbits
    radios rats ravens readers regions results rice rings rivers rockets rocks rooms roses rules
    sails schools seals seas sheep shirts shoes showers shrimps sides signs singers sites sloths
    snails snakes socks spiders spies spoons squids stamps stars states steaks streets suits suns
    swans symbols tables taxes taxis teams teeth terms things ties tigers times tips tires toes
    tools towns toys trains trams trees turkeys turtles vans views walls wasps waves ways webs weeks
    windows wings wolves wombats words worlds worms yaks years zebras zoos
""".split()

_MASK = 0xFFFFFFFF


def _fnv1a(text: str) -> int:
    h = 2166136261
    data = text.encode("utf-16-le")
    for i in range(0, len(data), 2):
        h = ((h ^ (data[i] | data[i + 1] << 8)) * 16777619) & _MASK
    return h


def readable_id(visitor_id: str) -> str:
    """The "<adjective>-<noun>-<NN>" label of ``visitor_id``."""
    h = _fnv1a(visitor_id)
    adjective = ADJECTIVES[(((h ^ 0x9E3779B9) * 2246822519) & _MASK) % len(ADJECTIVES)]
    noun = NOUNS[(((h ^ 0x85EBCA6B) * 2246822519) & _MASK) % len(NOUNS)]
    seed = ((h ^ 0x27D4EB2D) * 0x165667B1) & _MASK
    return f"{adjective}-{noun}-{seed % 99 + 1:02d}"
