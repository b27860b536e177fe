//! Where each node stands in a list of node ids, found by id in one step: an actor that
//! hears from one of thousands of edges (a scrape answer, a probe acknowledgement)
//! finds the sender's slot without searching a list as long as the run's edges.

use super::NodeId;

/// Each listed node's position in the list, by node id (ids are dense from 0).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Places {
    /// One more than the position, by id; 0 for an id the list does not hold.
    by_id: Vec<u32>,
}

impl Places {
    /// The positions in `ids`; an id listed twice is at its first place, as a search
    /// from the front finds it.
    pub fn of(ids: &[NodeId]) -> Places {
        let len = ids.iter().map(|&id| id as usize + 1).max().unwrap_or(0);
        let mut by_id = vec![0u32; len];
        for (place, &id) in ids.iter().enumerate().rev() {
            by_id[id as usize] = place as u32 + 1;
        }
        Places { by_id }
    }

    /// The position of `id` in the list, if it is listed.
    pub fn get(&self, id: NodeId) -> Option<usize> {
        match self.by_id.get(id as usize) {
            Some(&place) if place > 0 => Some(place as usize - 1),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_a_search_from_the_front_finds() {
        let ids = [7, 3, 9, 3, 0];
        let places = Places::of(&ids);
        for id in 0..12 {
            assert_eq!(places.get(id), ids.iter().position(|&x| x == id), "id {id}");
        }
        assert_eq!(Places::of(&[]).get(0), None);
    }
}
