//! A table of text cells that renders as Markdown (for `summary.md`) and as HTML (for `report.html`), so both
//! show the same numbers.

use std::fmt::Write as _;

/// A header row and body rows of text.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TextTable {
    /// Column names.
    pub header: Vec<String>,
    /// Body rows, each as long as the header.
    pub rows: Vec<Vec<String>>,
}

/// Escapes `&`, `<`, `>` and `"` for HTML text and attributes.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

impl TextTable {
    /// The table in Markdown (pipes in cells escaped).
    pub fn markdown(&self) -> String {
        let line = |cells: &[String]| {
            let cells: Vec<String> = cells.iter().map(|c| c.replace('|', "\\|")).collect();
            format!("| {} |\n", cells.join(" | "))
        };
        let mut out = line(&self.header);
        let _ = writeln!(out, "|{}", "---|".repeat(self.header.len()));
        for row in &self.rows {
            out.push_str(&line(row));
        }
        out
    }

    /// The table as an HTML `<table>`.
    pub fn html(&self) -> String {
        let mut out = String::from("<table>\n<thead><tr>");
        for h in &self.header {
            let _ = write!(out, "<th>{}</th>", escape_html(h));
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for row in &self.rows {
            out.push_str("<tr>");
            for c in row {
                let _ = write!(out, "<td>{}</td>", escape_html(c));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n</table>\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_and_html_show_the_same_escaped_cells() {
        let t = TextTable {
            header: vec!["a".into(), "b<c".into()],
            rows: vec![vec!["x|y".into(), "1 & 2".into()]],
        };
        assert_eq!(t.markdown(), "| a | b<c |\n|---|---|\n| x\\|y | 1 & 2 |\n");
        assert_eq!(
            t.html(),
            "<table>\n<thead><tr><th>a</th><th>b&lt;c</th></tr></thead>\n<tbody>\n<tr><td>x|y</td><td>1 &amp; 2</td></tr>\n</tbody>\n</table>\n"
        );
    }
}
