//! Hand-made cases of the pick; the random ones are in tests/it/schedule_props.rs.

use super::*;

fn spec(n: usize, before: &[(usize, usize)], groups: Vec<GroupSpec>, limit: usize) -> Spec {
    let mut deps = vec![Vec::new(); n];
    for &(from, to) in before {
        deps[to].push(from);
    }
    Spec {
        names: (0..n).map(|i| format!("i{i}")).collect(),
        scheduled: vec![true; n],
        before: deps,
        exclusive: vec![false; n],
        groups,
        limit,
        changes: true,
        reverse: false,
    }
}

fn starts(steps: &[Step]) -> Vec<usize> {
    steps
        .iter()
        .filter_map(|s| match s {
            Step::Start(i) => Some(*i),
            _ => None,
        })
        .collect()
}

#[test]
fn the_longest_chain_goes_first() {
    // 3 -> 2 -> 1 (1 waits for 2, 2 for 3); 0 is alone.
    let mut s = Schedule::new(spec(4, &[(3, 2), (2, 1)], vec![], 1)).unwrap();
    assert_eq!(starts(&s.decide()), vec![3]);
    s.finished(3, true, false);
    assert_eq!(starts(&s.decide()), vec![2]);
}

#[test]
fn an_instance_held_by_its_group_does_not_hold_back_the_next() {
    // 0 and 1 (long chains) share a group of concurrency 1; 2 is alone.
    let group = GroupSpec {
        name: "g".into(),
        mode: Mode::Parallel,
        concurrency: 1,
        members: vec![Member::Instance(0), Member::Instance(1)],
        hook: false,
    };
    let mut s = Schedule::new(spec(5, &[(0, 3), (1, 4)], vec![group], 2)).unwrap();
    assert_eq!(starts(&s.decide()), vec![0, 2]);
    assert_eq!(s.group_load(0), (1, 2));
}

#[test]
fn a_serial_member_after_a_failure_is_skipped_naming_the_group_and_member() {
    let group = GroupSpec {
        name: "migrations".into(),
        mode: Mode::Serial,
        concurrency: 0,
        members: vec![
            Member::Instance(0),
            Member::Instance(1),
            Member::Instance(2),
        ],
        hook: false,
    };
    let mut s = Schedule::new(spec(3, &[], vec![group], 4)).unwrap();
    assert_eq!(starts(&s.decide()), vec![0]);
    s.finished(0, false, false);
    let steps = s.decide();
    assert_eq!(
        steps,
        vec![
            Step::Skip(1, "earlier member of migrations failed: i0".into()),
            Step::Skip(2, "earlier member of migrations failed: i0".into()),
        ]
    );
    assert!(s.all_done());
}

#[test]
fn refused_shapes_name_what_is_wrong() {
    let g = |name: &str, mode, members| GroupSpec {
        name: name.into(),
        mode,
        concurrency: 0,
        members,
        hook: false,
    };
    let twice = vec![
        g("a", Mode::Parallel, vec![Member::Instance(0)]),
        g("b", Mode::Parallel, vec![Member::Instance(0)]),
    ];
    let msg = format!("{:#}", Schedule::new(spec(1, &[], twice, 1)).err().unwrap());
    assert!(
        msg.contains("i0 is a member of two groups: a and b"),
        "{msg}"
    );
    let contradiction = vec![g(
        "s",
        Mode::Serial,
        vec![Member::Instance(0), Member::Instance(1)],
    )];
    let msg = format!(
        "{:#}",
        Schedule::new(spec(2, &[(1, 0)], contradiction, 1))
            .err()
            .unwrap()
    );
    assert!(
        msg.contains("order cycle") && msg.contains("i0 -> i1 -> i0"),
        "{msg}"
    );
    let inside = vec![g("x", Mode::Parallel, vec![Member::Group(0)])];
    let msg = format!(
        "{:#}",
        Schedule::new(spec(1, &[], inside, 1)).err().unwrap()
    );
    assert!(msg.contains("group x contains itself"), "{msg}");
}
