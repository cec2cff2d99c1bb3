//! Natural client ids: a CSV column that names the client of each row (`clients.partition: { kind: natural }`),
//! numbered as Flower Datasets' `NaturalIdPartitioner` numbers them.

/// The client id of each point and the distinct ids of the whole file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NaturalIds {
    /// The distinct ids in client order: numeric order when every id is an integer (as Flower sorts a column that
    /// `datasets` reads as integers), else text order. Client i is `names[i]`.
    pub names: Vec<String>,
    /// The client (index into `names`) of each point.
    pub of: Vec<usize>,
}

impl NaturalIds {
    /// Numbers the ids `texts` (one per row) in client order; integer ids that are equal as numbers (`7`, `07`)
    /// are one client, named by their first spelling.
    pub fn from_texts<S: AsRef<str>>(texts: &[S]) -> NaturalIds {
        let numbers: Option<Vec<i128>> = texts.iter().map(|t| t.as_ref().parse().ok()).collect();
        match numbers {
            Some(numbers) => {
                let mut distinct = numbers.clone();
                distinct.sort_unstable();
                distinct.dedup();
                let of: Vec<usize> = numbers
                    .iter()
                    .map(|v| distinct.binary_search(v).expect("listed"))
                    .collect();
                let mut names = vec![String::new(); distinct.len()];
                for (text, &client) in texts.iter().zip(&of).rev() {
                    names[client] = text.as_ref().to_string();
                }
                NaturalIds { names, of }
            }
            None => {
                let mut names: Vec<String> = texts.iter().map(|t| t.as_ref().to_string()).collect();
                names.sort_unstable();
                names.dedup();
                let of = texts
                    .iter()
                    .map(|t| {
                        names
                            .binary_search_by(|name| name.as_str().cmp(t.as_ref()))
                            .expect("listed")
                    })
                    .collect();
                NaturalIds { names, of }
            }
        }
    }

    /// The ids of the points at `indices`, in that order (the distinct ids stay those of the whole file).
    pub fn select(&self, indices: &[usize]) -> NaturalIds {
        NaturalIds {
            names: self.names.clone(),
            of: indices.iter().map(|&i| self.of[i]).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_ids_sort_as_numbers_and_others_as_text() {
        let n = NaturalIds::from_texts(&["10", "2", "-1", "2", "010"]);
        assert_eq!(n.names, ["-1", "2", "10"]);
        assert_eq!(n.of, [2, 1, 0, 1, 2]);
        let t = NaturalIds::from_texts(&["bob", "10", "alice", "2"]);
        assert_eq!(t.names, ["10", "2", "alice", "bob"]);
        assert_eq!(t.of, [3, 0, 2, 1]);
        assert_eq!(t.select(&[3, 0]).of, [1, 3]);
    }
}
