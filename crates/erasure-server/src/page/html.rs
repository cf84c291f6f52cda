//! The page's HTML: escaping, the layout every page shares, and the report table. Titles are
//! fixed text: nothing personal in a title (or a URL).

use std::fmt::Write as _;

use erasure_core::{Action, Report};

/// `text` with `& < > " '` escaped, for element content and attribute values.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The sections of the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nav {
    Requests,
    Erase,
    Receipts,
    Outbox,
    Jobs,
    Chain,
    None,
}

const STYLE: &str = "
:root { color-scheme: light; --fg: #1a1a1a; --muted: #4a4a4a; --accent: #0b4f9c; --bad: #8a1c1c; --line: #c8c8c8; --hi: #fff3cd; }
* { box-sizing: border-box; }
body { font: 16px/1.5 system-ui, sans-serif; color: var(--fg); margin: 0; background: #fff; }
a { color: var(--accent); }
a:focus, button:focus, input:focus, select:focus, textarea:focus { outline: 3px solid #f0a500; outline-offset: 2px; }
.skip { position: absolute; left: -999px; } .skip:focus { left: 8px; top: 8px; background: #fff; padding: 4px; }
header { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; padding: .5rem 1rem; border-bottom: 1px solid var(--line); }
header nav a { margin-right: .75rem; } header nav a[aria-current=page] { font-weight: 700; }
main { padding: 1rem; max-width: 72rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.overdue { background: var(--hi); }
.badge { font-weight: 700; color: var(--bad); }
form.inline { display: inline; }
fieldset { border: 1px solid var(--line); margin: 0 0 1rem; padding: .75rem; }
label { display: block; margin: .25rem 0; }
input, select, textarea, button { font: inherit; padding: .3rem .5rem; }
button { background: var(--accent); color: #fff; border: 0; border-radius: 3px; cursor: pointer; }
button.danger { background: var(--bad); }
.notice { padding: .5rem 1rem; border-left: 4px solid var(--accent); background: #eef4fb; }
.error { padding: .5rem 1rem; border-left: 4px solid var(--bad); background: #fbeeee; }
.muted { color: var(--muted); }
";

/// A whole page: the layout around `body`. `operator` and `csrf` are the session's, `None` on
/// the login page.
pub(crate) fn layout(title: &str, nav: Nav, session: Option<(&str, &str)>, body: &str) -> String {
    let mut out = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{} · erasure</title><style>{STYLE}</style></head>\n<body>\
         <a class=\"skip\" href=\"#main\">Skip to the content</a>\n",
        esc(title)
    );
    if let Some((operator, csrf)) = session {
        out.push_str("<header><strong>erasure</strong><nav aria-label=\"Sections\">");
        for (item, href, label) in [
            (Nav::Requests, "/ops/requests", "Requests"),
            (Nav::Erase, "/ops/erase", "Erase a subject"),
            (Nav::Receipts, "/ops/receipts", "Receipts"),
            (Nav::Outbox, "/ops/outbox", "Outbox"),
            (Nav::Jobs, "/ops/jobs", "Jobs"),
            (Nav::Chain, "/ops/chain", "Chain and coverage"),
        ] {
            let current = if item == nav {
                " aria-current=\"page\""
            } else {
                ""
            };
            let _ = write!(out, "<a href=\"{href}\"{current}>{label}</a>");
        }
        let _ = writeln!(
            out,
            "</nav><span class=\"muted\">Signed in as {}</span>\
             <form class=\"inline\" method=\"post\" action=\"/ops/logout\">{}<button>Sign out</button></form></header>",
            esc(operator),
            csrf_field(csrf)
        );
    }
    let _ = write!(
        out,
        "<main id=\"main\"><h1>{}</h1>\n{body}</main></body></html>\n",
        esc(title)
    );
    out
}

/// The hidden CSRF field every form carries.
pub(crate) fn csrf_field(csrf: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(csrf)
    )
}

/// A POST form with one button (and the CSRF field), inline.
pub(crate) fn button(action: &str, csrf: &str, label: &str, danger: bool) -> String {
    format!(
        "<form class=\"inline\" method=\"post\" action=\"{}\">{}<button{}>{}</button></form>",
        esc(action),
        csrf_field(csrf),
        if danger { " class=\"danger\"" } else { "" },
        esc(label)
    )
}

/// A report as the CLI prints it: per handler and table, the action, the rows and the reason.
pub(crate) fn report_table(report: &Report) -> String {
    let mut out = format!(
        "<p>Run <code>{}</code> ({}, {}), subject <code>{}</code> ({}).</p>\
         <table><caption class=\"muted\">What each handler did, per table</caption>\
         <thead><tr><th scope=\"col\">Position</th><th scope=\"col\">Handler</th>\
         <th scope=\"col\">Table</th><th scope=\"col\">Action</th><th scope=\"col\">Rows</th>\
         <th scope=\"col\">Reason</th></tr></thead><tbody>",
        report.run_id,
        esc(&report.mode.to_string()),
        esc(&report.reason.to_string()),
        esc(&report.subject),
        esc(&report.subject_kind.to_string())
    );
    for h in &report.handlers {
        let effects = h.outcome.effects();
        if effects.is_empty() {
            let _ = write!(
                out,
                "<tr><td class=\"num\">{}</td><td>{}</td><td>-</td><td>-</td><td class=\"num\">0</td><td>{}</td></tr>",
                h.position,
                esc(&h.name),
                esc(&h.outcome.notes().collect::<Vec<_>>().join("; "))
            );
        }
        for e in effects {
            let (action, reason) = match &e.action {
                Action::Retained { reason } => ("retained", reason.as_ref()),
                Action::Deleted => ("deleted", ""),
                Action::Anonymized => ("anonymized", ""),
                Action::Deferred => ("deferred", ""),
            };
            let _ = write!(
                out,
                "<tr><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{action}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                h.position,
                esc(&h.name),
                esc(e.table.as_str()),
                e.rows,
                esc(reason)
            );
        }
    }
    let t = report.totals();
    let _ = write!(
        out,
        "</tbody></table><p><strong>Total</strong>: {} deleted, {} anonymized, {} deferred, {} retained.</p>",
        t.deleted, t.anonymized, t.deferred, t.retained
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn the_layout_has_a_title_a_skip_link_and_the_csrf_field() {
        let page = layout(
            "Requests",
            Nav::Requests,
            Some(("support-1", "c5rf")),
            "<p>x</p>",
        );
        assert!(page.contains("<title>Requests · erasure</title>"));
        assert!(page.contains("href=\"#main\""));
        assert!(page.contains("aria-current=\"page\">Requests"));
        assert!(page.contains("name=\"csrf\" value=\"c5rf\""));
    }
}
