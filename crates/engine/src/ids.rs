//! Job ids (time-sortable) and codenames (`adjective-animal`).

use std::sync::Mutex;

/// Hands out ULIDs that sort by creation time, strictly increasing even within one millisecond.
pub struct IdSource {
    generator: Mutex<ulid::Generator>,
}

impl Default for IdSource {
    fn default() -> Self {
        IdSource {
            generator: Mutex::new(ulid::Generator::new()),
        }
    }
}

impl IdSource {
    /// A new lowercase ULID (26 characters).
    pub fn next(&self) -> String {
        let id = match self.generator.lock() {
            Ok(mut g) => g.generate().unwrap_or_else(|_| ulid::Ulid::generate()),
            Err(_) => ulid::Ulid::generate(),
        };
        id.to_string().to_ascii_lowercase()
    }
}

const ADJECTIVES: &[&str] = &[
    "agile",
    "amber",
    "ancient",
    "bold",
    "brave",
    "bright",
    "brisk",
    "calm",
    "clever",
    "cosmic",
    "crisp",
    "curious",
    "daring",
    "dapper",
    "eager",
    "early",
    "fancy",
    "fearless",
    "fluffy",
    "gentle",
    "gleaming",
    "golden",
    "happy",
    "hardy",
    "humble",
    "jolly",
    "keen",
    "kind",
    "lively",
    "lucky",
    "merry",
    "mighty",
    "misty",
    "nimble",
    "noble",
    "patient",
    "plucky",
    "polite",
    "proud",
    "quick",
    "quiet",
    "rapid",
    "rustic",
    "shiny",
    "silent",
    "silver",
    "sleepy",
    "snowy",
    "spry",
    "steady",
    "sunny",
    "swift",
    "tidy",
    "tiny",
    "trusty",
    "vivid",
    "wandering",
    "warm",
    "wise",
    "witty",
    "zany",
    "zesty",
    "velvet",
    "stellar",
];

const ANIMALS: &[&str] = &[
    "albatross",
    "alpaca",
    "badger",
    "beaver",
    "bison",
    "bobcat",
    "capybara",
    "caribou",
    "cheetah",
    "condor",
    "coyote",
    "crane",
    "dingo",
    "dolphin",
    "eagle",
    "falcon",
    "ferret",
    "finch",
    "gecko",
    "gibbon",
    "heron",
    "ibex",
    "impala",
    "jackal",
    "jaguar",
    "koala",
    "lemur",
    "leopard",
    "llama",
    "lynx",
    "marmot",
    "meerkat",
    "mole",
    "moose",
    "narwhal",
    "ocelot",
    "octopus",
    "otter",
    "owl",
    "panda",
    "pelican",
    "penguin",
    "puffin",
    "quokka",
    "rabbit",
    "raccoon",
    "raven",
    "salmon",
    "seal",
    "sparrow",
    "squid",
    "stork",
    "tapir",
    "tiger",
    "toucan",
    "turtle",
    "walrus",
    "weasel",
    "whale",
    "wombat",
    "yak",
    "zebra",
    "hedgehog",
    "mantis",
];

/// Picks a codename not in `taken`. Tries random pairs first, then walks every pair from a random
/// start, and only when all pairs are taken adds a number (`brave-otter-2`).
pub fn pick_codename(random: u128, taken: &dyn Fn(&str) -> bool) -> String {
    let pairs = ADJECTIVES.len() * ANIMALS.len();
    let start = (random % pairs as u128) as usize;
    for step in 0..pairs {
        // Stride through the pairs with a step coprime to their count so nearby starts spread out.
        let i = (start + step * 37) % pairs;
        let name = pair(i);
        if !taken(&name) {
            return name;
        }
    }
    let base = pair(start);
    let mut n = 2u64;
    loop {
        let name = format!("{base}-{n}");
        if !taken(&name) {
            return name;
        }
        n += 1;
    }
}

fn pair(i: usize) -> String {
    format!(
        "{}-{}",
        ADJECTIVES[i / ANIMALS.len()],
        ANIMALS[i % ANIMALS.len()]
    )
}

/// Random bits for codenames, from the OS-seeded source ulid uses.
pub fn random_bits() -> u128 {
    ulid::Ulid::generate().random()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_and_sorted_by_creation() {
        let src = IdSource::default();
        let ids: Vec<String> = (0..2000).map(|_| src.next()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
        assert!(ids
            .iter()
            .all(|id| id.len() == 26 && id == &id.to_ascii_lowercase()));
    }

    #[test]
    fn codenames_avoid_taken_ones_until_exhausted() {
        let mut taken = HashSet::new();
        let pairs = ADJECTIVES.len() * ANIMALS.len();
        for n in 0..pairs + 3 {
            let name = pick_codename(n as u128 * 7919, &|c| taken.contains(c));
            assert!(!taken.contains(&name), "{name} handed out twice");
            let parts: Vec<&str> = name.split('-').collect();
            assert!(
                parts.len() == 2 || (n >= pairs && parts.len() == 3),
                "{name}"
            );
            taken.insert(name);
        }
    }

    #[test]
    fn word_lists_have_no_duplicates_or_dashes() {
        for list in [ADJECTIVES, ANIMALS] {
            let set: HashSet<_> = list.iter().collect();
            assert_eq!(set.len(), list.len());
            assert!(list.iter().all(|w| !w.contains('-') && !w.is_empty()));
        }
    }
}
