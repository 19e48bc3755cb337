//! The end-of-run table: one row per instance with its result, time and
//! resource counts.

use crate::tf::resources::Resources;

/// One row of the summary table.
pub struct Row {
    pub name: String,
    pub result: String,
    pub duration: Option<f64>,
    pub resources: Option<Resources>,
    pub note: String,
}

/// Renders the table. For a plan the columns say what would happen.
pub fn table(rows: &[Row], planned: bool) -> String {
    let heads = if planned {
        [
            "INSTANCE",
            "RESULT",
            "DURATION",
            "TO ADD",
            "TO CHANGE",
            "TO DESTROY",
        ]
    } else {
        [
            "INSTANCE",
            "RESULT",
            "DURATION",
            "ADDED",
            "CHANGED",
            "DESTROYED",
        ]
    };
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            let count = |f: fn(&Resources) -> u64| {
                r.resources
                    .as_ref()
                    .map_or("-".into(), |x| f(x).to_string())
            };
            [
                r.name.clone(),
                r.result.clone(),
                r.duration.map_or("-".into(), |d| format!("{d:.1}s")),
                count(|x| x.added),
                count(|x| x.changed),
                count(|x| x.destroyed),
            ]
        })
        .collect();
    let mut widths: Vec<usize> = heads.iter().map(|h| h.len()).collect();
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let render = |row: &[String], note: &str| {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
            if i < 2 {
                line.push_str(&format!("{cell:<w$}  "));
            } else {
                line.push_str(&format!("{cell:>w$}  "));
            }
        }
        line.push_str(note);
        line.trim_end().to_string() + "\n"
    };
    let heads: Vec<String> = heads.iter().map(|h| h.to_string()).collect();
    let mut out = render(&heads, "NOTE");
    for (row, r) in cells.iter().zip(rows) {
        out.push_str(&render(row, &r.note));
    }
    out
}
