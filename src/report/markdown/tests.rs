use super::*;
use crate::tf::plan_changes::{ChangeAction, ResourceChange};

fn planned(name: &str, addresses: &[(&str, ChangeAction)]) -> MdInstance {
    let changes = PlanChanges {
        resources: addresses
            .iter()
            .map(|(a, action)| ResourceChange {
                address: a.to_string(),
                action: *action,
            })
            .collect(),
        outputs: vec![],
    };
    MdInstance {
        name: name.to_string(),
        status: "succeeded".into(),
        failed: false,
        resources: Some(changes.counts()),
        duration_s: Some(1.5),
        changes: Some(changes),
        error: vec![],
        retries: 0,
        plan: None,
    }
}

fn run<'a>(instances: Vec<MdInstance>, names: &'a BTreeMap<String, String>) -> MdRun<'a> {
    MdRun {
        action: "plan",
        target: "//infra:all",
        instances,
        affected: None,
        names,
        plan_set: None,
    }
}

#[test]
fn identical_plans_share_a_row_and_a_details_block() {
    let names = BTreeMap::new();
    let create = [("terraform_data.x", ChangeAction::Create)];
    let text = render(
        &run(
            vec![
                planned("a", &create),
                planned("b", &create),
                planned("c", &[("terraform_data.x", ChangeAction::Update)]),
                planned("d", &[]),
            ],
            &names,
        ),
        COMMENT_LIMIT,
    );
    assert!(
        text.contains("**4 planned** · 3 with changes · 1 without · 0 failed"),
        "{text}"
    );
    assert!(
        text.contains("| `a`, `b` | changes | 1 | 0 | 0 | 1.5s |"),
        "{text}"
    );
    assert!(
        text.contains("| `c` | changes | 0 | 1 | 0 | 1.5s |"),
        "{text}"
    );
    assert!(
        text.contains("| `d` | no changes | 0 | 0 | 0 | 1.5s |"),
        "{text}"
    );
    assert_eq!(text.matches("<details>").count(), 2, "{text}");
    assert!(text.contains(
        "<summary><code>a</code>, <code>b</code>: 1 to add, 0 to change, 0 to destroy</summary>"
    ));
    assert!(text.contains("- `terraform_data.x` update"), "{text}");
}

#[test]
fn failures_show_their_first_error_lines_and_never_group() {
    let names = BTreeMap::new();
    let failed = |name: &str| MdInstance {
        name: name.into(),
        status: "failed".into(),
        failed: true,
        resources: None,
        duration_s: Some(0.2),
        changes: None,
        error: (1..=20).map(|n| format!("line {n} ```")).collect(),
        retries: 0,
        plan: None,
    };
    let text = render(&run(vec![failed("x"), failed("y")], &names), COMMENT_LIMIT);
    assert!(text.contains("| `x` | ❌ failed | - | - | - | 0.2s |"));
    assert!(text.contains("| `y` | ❌ failed |"));
    assert!(
        text.contains("line 8 ```\n") && !text.contains("line 9"),
        "{text}"
    );
    // The fence is longer than the backtick runs inside: they cannot close it.
    assert_eq!(text.matches("\n````text\n").count(), 2, "{text}");
    assert_eq!(text.matches("\n````\n").count(), 2, "{text}");
}

#[test]
fn unaffected_and_removed_are_one_line_each_by_short_name() {
    let names: BTreeMap<String, String> = [("//p:k", "k"), ("//p:gone", "gone")]
        .iter()
        .map(|(l, n)| (l.to_string(), n.to_string()))
        .collect();
    let affected = Affected {
        base: "git HEAD~1".into(),
        changed: vec!["//p:a".into()],
        unaffected: vec!["//p:k".into(), "//p:l".into()],
        removed: vec!["//p:gone".into()],
        ..Affected::default()
    };
    let mut r = run(vec![planned("a", &[])], &names);
    r.affected = Some(&affected);
    let text = render(&r, COMMENT_LIMIT);
    assert!(
        text.contains("\n**Unaffected (2):** `k`, `//p:l`\n"),
        "{text}"
    );
    assert!(
        text.contains("\n**Removed (never destroyed by fleet) (1):** `gone`\n"),
        "{text}"
    );
    assert!(text.contains(
        "Affected since `git HEAD~1`: 1 changed, 0 added, 0 dependent; 2 unaffected, 1 removed."
    ));
}

#[test]
fn nothing_affected_says_so() {
    let names = BTreeMap::new();
    let text = render(&run(vec![], &names), COMMENT_LIMIT);
    assert!(
        text.contains("No instance is affected: nothing to run."),
        "{text}"
    );
    assert!(!text.contains("| Instance |"));
}

#[test]
fn never_longer_than_the_limit_and_says_it_was_cut() {
    let names = BTreeMap::new();
    let many: Vec<MdInstance> = (0..3000)
        .map(|n| {
            let address = format!("module.m[\"{n}\"].terraform_data.<x>");
            planned(
                &format!("instance-{n}"),
                &[(&address, ChangeAction::Replace)],
            )
        })
        .collect();
    let text = render(&run(many, &names), COMMENT_LIMIT);
    assert!(
        text.chars().count() <= COMMENT_LIMIT,
        "{}",
        text.chars().count()
    );
    assert!(text.contains("**Truncated**"));
    assert!(text.contains("terraform_data.<x>` replace") || !text.contains("<details>"));
    // Every block that is there is whole.
    assert_eq!(
        text.matches("<details>").count(),
        text.matches("</details>").count()
    );
    let small = render(&run(vec![planned("a", &[])], &names), COMMENT_LIMIT);
    assert!(!small.contains("Truncated"));
    let tiny = render(&run(vec![planned("a", &[])], &names), 400);
    assert!(tiny.chars().count() <= 400, "{tiny}");
}

#[test]
fn error_lines_start_at_terraforms_error() {
    let log = "Initializing...\n\u{1b}[31m╷\u{1b}[0m\n│ \u{1b}[1mError: \u{1b}[0mbad thing\n│ \n│   on main.tf line 3\n╵\n";
    assert_eq!(
        error_lines(log, Some("terraform plan exited 1")),
        ["Error: bad thing", "on main.tf line 3"]
    );
    assert_eq!(
        error_lines("nothing", Some("lock timeout")),
        ["lock timeout"]
    );
}

#[test]
fn code_spans_show_the_text_exactly() {
    assert_eq!(code("plain"), "`plain`");
    assert_eq!(code("a`b"), "``a`b``");
    assert_eq!(code("a```b``"), "```` a```b`` ````");
    assert_eq!(code("`"), "`` ` ``");
    assert_eq!(code(" a "), "`  a  `");
    assert_eq!(code(" a"), "` a`");
    assert_eq!(code("   "), "`   `");
    assert_eq!(code("x\ny\r\u{7}"), "`x\\ny\\r\\u{7}`");
    assert_eq!(code(""), "(empty)");
    assert_eq!(
        html_code("<b>&\"'\n\n"),
        "<code>&lt;b&gt;&amp;&quot;&#39;\\n\\n</code>"
    );
    assert_eq!(
        fenced(&["a ````` b", "c"]),
        "``````text\na ````` b\nc\n``````\n"
    );
}

#[test]
fn hostile_names_revs_and_addresses_stay_code() {
    let names = BTreeMap::new();
    let affected = Affected {
        base: "HEAD^{/[Approve](https://evil.example)}".into(),
        added: vec!["//p:a".into()],
        ..Affected::default()
    };
    let mut r = run(
        vec![planned(
            "a|**b**",
            &[("t.x[\"![x](https://e/p.png)\"]", ChangeAction::Create)],
        )],
        &names,
    );
    r.target = "//p:<img src=x>";
    r.affected = Some(&affected);
    let text = render(&r, COMMENT_LIMIT);
    assert!(
        text.contains("### fleet plan `//p:<img src=x>`\n"),
        "{text}"
    );
    assert!(
        text.contains("Affected since `HEAD^{/[Approve](https://evil.example)}`:"),
        "{text}"
    );
    assert!(text.contains("| `a\\|**b**` | changes |"), "{text}");
    assert!(
        text.contains("- `t.x[\"![x](https://e/p.png)\"]` create"),
        "{text}"
    );
    assert!(
        text.contains("<summary><code>a|**b**</code>: 1 to add"),
        "{text}"
    );
}

#[test]
fn a_plan_set_apply_names_the_set_and_each_plan_and_shows_stale_plans() {
    let names = BTreeMap::new();
    let mut stale = planned("b", &[]);
    stale.status = "stale_plan".into();
    stale.failed = true;
    stale.error = vec!["stale plan, not applied: rendered: the rendered tree".into()];
    let mut ok = planned("a", &[]);
    ok.plan = Some(("0123456789abcdef".into(), 4));
    let mut run = run(vec![ok, stale], &names);
    run.action = "apply";
    let set = crate::report::PlanSetReport {
        dir: "/ci/set".into(),
        seal_algorithm: "hmac-sha256".into(),
        seal: "feedface00112233".into(),
        commit: Some("c0ffee".into()),
        created_at: "2026-01-01T00:00:00Z".into(),
        age_s: Some(90),
        unknown_instances: vec![],
    };
    run.plan_set = Some(&set);
    let text = render(&run, COMMENT_LIMIT);
    assert!(
        text.contains("Plan set sealed `hmac-sha256:feedface0011`"),
        "{text}"
    );
    assert!(text.contains("commit `c0ffee`"), "{text}");
    assert!(text.contains("⛔ stale_plan"), "{text}");
    assert!(text.contains("0 failed · 1 refused as stale"), "{text}");
    assert!(text.contains("rendered: the rendered tree"), "{text}");
    assert!(
        text.contains("`a`: plan `0123456789ab` against state serial 4"),
        "{text}"
    );
}
