//! JSON objects read field by field ([`Obj`]), so that fields nobody read can be reported. Used
//! by every parser of definition parts (`parse`, and `choice` for choice rules), so it sits below
//! both of them.

use std::cell::RefCell;
use std::collections::HashSet;

use serde_json::{Map, Value};

/// An object whose fields are read one by one, so the unread ones can be reported.
pub(crate) struct Obj<'v> {
    map: &'v Map<String, Value>,
    seen: RefCell<HashSet<&'v str>>,
}

impl<'v> Obj<'v> {
    pub fn new(map: &'v Map<String, Value>) -> Self {
        Self {
            map,
            seen: RefCell::new(HashSet::new()),
        }
    }

    /// The field's value, marking the field as read.
    pub fn get(&self, key: &str) -> Option<&'v Value> {
        let (key, value) = self.map.get_key_value(key)?;
        self.seen.borrow_mut().insert(key.as_str());
        Some(value)
    }

    /// Whether the field has been read.
    pub fn seen(&self, key: &str) -> bool {
        self.seen.borrow().contains(key)
    }

    /// The fields not read so far, to report as unknown or not allowed.
    pub fn unread(&self) -> Vec<&'v str> {
        let seen = self.seen.borrow();
        self.map
            .keys()
            .map(String::as_str)
            .filter(|k| !seen.contains(k))
            .collect()
    }
}
