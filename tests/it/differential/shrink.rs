//! Shrinking a world the two judges disagree on, so that a failure reads as the one or two
//! statements that matter instead of a generated account.
//!
//! The judge on the other side is a Node process asked in batches, so this is a greedy
//! delta-debugging loop rather than a per-case shrinker: each round builds every world one
//! step simpler (one statement fewer in one policy, or one statement without its condition),
//! asks both judges about all of them in one batch, and keeps the first that still disagrees.
//! It ends when no simpler world disagrees: the result is minimal for those steps.

use serde_json::Value;

use super::world::World;

/// Every statement list of a world, in a fixed order: identity, group and managed policies,
/// the boundary, the resource policy, then each SCP's and each RCP's statements.
fn lists(w: &mut World) -> Vec<&mut Vec<Value>> {
    let mut v: Vec<&mut Vec<Value>> = vec![&mut w.identity, &mut w.group, &mut w.managed];
    if let Some(b) = &mut w.boundary {
        v.push(b);
    }
    if let Some(r) = &mut w.resource_policy {
        v.push(r);
    }
    for org in [&mut w.scps, &mut w.rcps].into_iter().flatten() {
        for p in org.iter_mut() {
            v.push(&mut p.1);
        }
    }
    v
}

/// How many statements a world holds in all.
pub fn statements(w: &World) -> usize {
    lists(&mut w.clone()).iter().map(|l| l.len()).sum()
}

/// Every world one step simpler than `w`.
pub fn simpler(w: &World) -> Vec<World> {
    let mut probe = w.clone();
    let shape: Vec<Vec<bool>> = lists(&mut probe)
        .iter()
        .map(|l| l.iter().map(|s| s.get("Condition").is_some()).collect())
        .collect();
    let mut out = Vec::new();
    for (li, conds) in shape.iter().enumerate() {
        for (si, has_condition) in conds.iter().enumerate() {
            let mut c = w.clone();
            lists(&mut c)[li].remove(si);
            out.push(c);
            if *has_condition {
                let mut c = w.clone();
                if let Some(s) = lists(&mut c)[li][si].as_object_mut() {
                    s.remove("Condition");
                }
                out.push(c);
            }
        }
    }
    out
}

/// Shrinks `w` while `disagree` (which answers for a batch of worlds at once) says the judges
/// still disagree on a simpler one; at most `rounds` rounds. Returns the smallest world found
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
        assert!(steps >= statements(&w) - 1, "seed {seed}: {steps} steps");
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
