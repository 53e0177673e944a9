//! Shrinking a world the two judges disagree on, so that a failure reads as the one or two
//! statements that matter instead of a generated account.
//!
//! The judge on the other side is a Node process asked in batches, so this is a greedy
//! delta-debugging loop rather than a per-case shrinker: each round builds every world one
//! step simpler (a policy fewer, one statement fewer in a policy, or one statement without its
//! condition), asks both judges about all of them in one batch, and keeps the first on which
//! they still give the same two answers as on the original (so it cannot drift to another
//! disagreement).
//! It ends when no simpler world disagrees: the result is minimal for those steps.

use serde_json::Value;

use super::world::World;

/// Where a list of statements lives in a world.
#[derive(Clone, Copy)]
enum Slot {
    Identity,
    Group,
    Managed,
    Boundary,
    Resource,
    Scp(usize),
    Rcp(usize),
}

/// Every statement list of a world, in a fixed order.
fn slots(w: &World) -> Vec<Slot> {
    let mut v = vec![Slot::Identity, Slot::Group, Slot::Managed];
    if w.boundary.is_some() {
        v.push(Slot::Boundary);
    }
    if w.resource_policy.is_some() {
        v.push(Slot::Resource);
    }
    v.extend((0..w.scps.as_ref().map_or(0, Vec::len)).map(Slot::Scp));
    v.extend((0..w.rcps.as_ref().map_or(0, Vec::len)).map(Slot::Rcp));
    v
}

fn list(w: &mut World, s: Slot) -> Option<&mut Vec<Value>> {
    match s {
        Slot::Identity => Some(&mut w.identity),
        Slot::Group => Some(&mut w.group),
        Slot::Managed => Some(&mut w.managed),
        Slot::Boundary => w.boundary.as_mut(),
        Slot::Resource => w.resource_policy.as_mut(),
        Slot::Scp(i) => w.scps.as_mut()?.get_mut(i).map(|p| &mut p.1),
        Slot::Rcp(i) => w.rcps.as_mut()?.get_mut(i).map(|p| &mut p.1),
    }
}

/// Takes a whole policy away: no boundary, no resource policy, one SCP or RCP fewer (a
/// policy is never left with an empty statement list, which would mean something else).
fn drop_policy(w: &mut World, s: Slot) {
    match s {
        Slot::Identity => w.identity.clear(),
        Slot::Group => w.group.clear(),
        Slot::Managed => w.managed.clear(),
        Slot::Boundary => w.boundary = None,
        Slot::Resource => w.resource_policy = None,
        Slot::Scp(i) => {
            if let Some(ps) = &mut w.scps {
                ps.remove(i);
            }
        }
        Slot::Rcp(i) => {
            if let Some(ps) = &mut w.rcps {
                ps.remove(i);
            }
        }
    }
}

/// How many statements a world holds in all.
pub fn statements(w: &World) -> usize {
    let mut probe = w.clone();
    slots(w)
        .into_iter()
        .map(|s| list(&mut probe, s).map_or(0, |l| l.len()))
        .sum()
}

/// Every world one step simpler than `w`: a whole policy fewer, one statement fewer in a
/// policy that keeps others, or one statement without its condition.
pub fn simpler(w: &World) -> Vec<World> {
    let mut probe = w.clone();
    let mut out = Vec::new();
    for slot in slots(w) {
        let conds: Vec<bool> = list(&mut probe, slot)
            .map(|l| l.iter().map(|s| s.get("Condition").is_some()).collect())
            .unwrap_or_default();
        if conds.is_empty() {
            continue;
        }
        let mut c = w.clone();
        drop_policy(&mut c, slot);
        out.push(c);
        for (si, has_condition) in conds.iter().enumerate() {
            if conds.len() > 1 {
                let mut c = w.clone();
                if let Some(l) = list(&mut c, slot) {
                    l.remove(si);
                }
                out.push(c);
            }
            if *has_condition {
                let mut c = w.clone();
                if let Some(st) = list(&mut c, slot)
                    .and_then(|l| l.get_mut(si))
                    .and_then(Value::as_object_mut)
                {
                    st.remove("Condition");
                }
                out.push(c);
            }
        }
    }
    out
}

/// Shrinks `w` while `disagree` (which answers for a batch of worlds at once) says the judges
/// still disagree the same way on a simpler one; at most `rounds` rounds. Returns the smallest world found
/// and the number of steps taken.
pub fn shrink(
    w: &World,
    disagree: &mut dyn FnMut(&[World]) -> Vec<bool>,
    rounds: usize,
) -> (World, usize) {
    let mut cur = w.clone();
    let mut steps = 0;
    for _ in 0..rounds {
        let cands = simpler(&cur);
        if cands.is_empty() {
            break;
        }
        let verdicts = disagree(&cands);
        match cands.into_iter().zip(verdicts).find(|(_, d)| *d) {
            Some((c, _)) => {
                cur = c;
                steps += 1;
            }
            None => break,
        }
    }
    (cur, steps)
}

#[test]
fn a_world_shrinks_to_the_statement_that_decides() {
    use super::world::{Gen, world};
    // A stand-in judge pair that disagrees whenever an identity statement denies: the shrinker
    // must strip everything else, and the deny's condition, but keep one deny.
    let denies = |w: &World| {
        w.identity
            .iter()
            .any(|s| s.get("Effect").and_then(Value::as_str) == Some("Deny"))
    };
    let mut tried = 0;
    for seed in 0..500u64 {
        let w = world(&mut Gen {
            rng: fastrand::Rng::with_seed(seed),
        });
        if !denies(&w) || statements(&w) < 4 {
            continue;
        }
        tried += 1;
        let mut asked = 0;
        let (small, steps) = shrink(
            &w,
            &mut |ws| {
                asked += 1;
                ws.iter().map(denies).collect()
            },
            200,
        );
        assert_eq!(statements(&small), 1, "seed {seed}: {:?}", small.identity);
        assert!(denies(&small));
        assert!(small.identity[0].get("Condition").is_none());
        assert!(steps >= 1, "seed {seed}: nothing removed");
        assert_eq!(
            asked,
            steps + 1,
            "one batch per step, and one that finds nothing"
        );
        if tried == 5 {
            break;
        }
    }
    assert_eq!(
        tried, 5,
        "the generator gave too few worlds with an identity deny"
    );
}

#[test]
fn no_simpler_world_holds_a_policy_without_statements() {
    use super::world::{Gen, world};
    for seed in 0..200u64 {
        let w = world(&mut Gen {
            rng: fastrand::Rng::with_seed(seed),
        });
        for c in simpler(&w) {
            assert!(
                c.boundary.as_ref().is_none_or(|b| !b.is_empty()),
                "seed {seed}"
            );
            assert!(
                c.resource_policy.as_ref().is_none_or(|r| !r.is_empty()),
                "seed {seed}"
            );
            for org in [&c.scps, &c.rcps].into_iter().flatten() {
                assert!(org.iter().all(|p| !p.1.is_empty()), "seed {seed}");
            }
            assert!(
                statements(&c) <= statements(&w),
                "seed {seed}: a step added statements"
            );
        }
    }
}
