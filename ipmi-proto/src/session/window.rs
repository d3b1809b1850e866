//! The inbound session-sequence window (IPMI v2.0 section 6.12.13): a packet is accepted once,
//! only if its number is new or within 32 below the highest accepted and not yet seen.

/// Sliding window with a received bitmap, rejecting replays and packets too old to track.
#[derive(Debug, Clone, Default)]
pub struct ReplayWindow {
    highest: u32,
    /// Bit k set: `highest - k` was accepted.
    seen: u32,
    started: bool,
}

/// How far ahead of the highest accepted number a packet may jump.
const AHEAD: u32 = 1 << 16;

impl ReplayWindow {
    /// A fresh window (accepts any first number except 0).
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `seq` would be accepted, without recording it.
    pub fn check(&self, seq: u32) -> bool {
        if seq == 0 {
            return false;
        }
        if !self.started {
            return true;
        }
        let ahead = seq.wrapping_sub(self.highest);
        if ahead != 0 && ahead <= AHEAD {
            return true;
        }
        let behind = self.highest.wrapping_sub(seq);
        behind < 32 && self.seen & (1 << behind) == 0
    }

    /// Accept `seq` if the window allows it; returns whether it did.
    pub fn accept(&mut self, seq: u32) -> bool {
        if !self.check(seq) {
            return false;
        }
        if !self.started {
            self.started = true;
            self.highest = seq;
            self.seen = 1;
            return true;
        }
        let ahead = seq.wrapping_sub(self.highest);
        if ahead != 0 && ahead <= AHEAD {
            self.seen = if ahead >= 32 { 0 } else { self.seen << ahead };
            self.seen |= 1;
            self.highest = seq;
        } else {
            let behind = self.highest.wrapping_sub(seq);
            self.seen |= 1 << behind;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_and_old_packets_rejected() {
        let mut w = ReplayWindow::new();
        assert!(!w.accept(0));
        assert!(w.accept(5));
        assert!(!w.accept(5), "replay");
        assert!(w.accept(7));
        assert!(w.accept(6), "late but new");
        assert!(!w.accept(6), "late replay");
        assert!(w.accept(100));
        assert!(w.accept(69), "31 behind, unseen");
        assert!(!w.accept(68), "32 behind: outside the window");
        assert!(!w.accept(7));
    }

    #[test]
    fn wraps_around() {
        let mut w = ReplayWindow::new();
        assert!(w.accept(u32::MAX - 1));
        assert!(w.accept(u32::MAX));
        assert!(w.accept(1));
        assert!(!w.accept(u32::MAX));
    }

    proptest::proptest! {
        #[test]
        fn never_accepts_twice(seqs in proptest::collection::vec(0u32..200, 0..300)) {
            let mut w = ReplayWindow::new();
            let mut accepted = std::collections::HashSet::new();
            for s in seqs {
                if w.accept(s) {
                    proptest::prop_assert!(accepted.insert(s), "accepted {} twice", s);
                }
            }
        }
    }
}
