//! `report.html`: one self-contained page, read top-down: the headline figures and their generated reading, the
//! other figures (each inlined as an SVG data URI with its caption and a link to its numbers), the tables folded
//! under a table of contents, and the scenario. A small script marks each figure loaded or broken and records script errors,
//! so a headless browser can check the page.

use super::build::{MADE_BY, ReportData};
use super::grid_table::{TextTable, escape_html};
use super::sweep_figures::WrittenFigure;
use crate::atomic::write_atomic;
use crate::error::Result;
use base64::Engine as _;
use std::fmt::Write as _;
use std::path::Path;

const STYLE: &str = "body{font-family:sans-serif;max-width:1320px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:0.85em}th,td{border:1px solid #ccc;padding:3px 7px;\
text-align:right}th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}figure{margin:1.5em 0}\
figure img{max-width:100%;height:auto;border:1px solid #ddd}figcaption{font-size:0.95em;margin-top:0.3em}\
pre{background:#f7f7f7;padding:1em;overflow:auto;font-size:0.85em}nav a{margin-right:1em}\
details{margin:0.6em 0}summary{cursor:pointer;font-weight:bold}";

/// Records errors before anything else runs.
const ERROR_TRAP: &str = "window.ddmsimErrors=[];window.addEventListener('error',function(e){\
window.ddmsimErrors.push(e.message||('failed to load '+((e.target&&e.target.id)||'a resource')));},true);";

/// After load: counts figures that decoded, and writes the result into `#figure-status` and `data-figures`; records
/// where the first figure sits (`data-first-figure`: top, height, viewport width and height, in CSS pixels).
const STATUS: &str = "window.addEventListener('load',function(){var imgs=document.querySelectorAll('img.figure');\
var ok=0;for(var i=0;i<imgs.length;i++){if(imgs[i].complete&&imgs[i].naturalWidth>0){ok++;}}\
var state=(ok===imgs.length&&window.ddmsimErrors.length===0)?'loaded':'broken';document.body.dataset.figures=state;\
document.getElementById('figure-status').textContent=ok+' of '+imgs.length+' figures loaded'+\
(window.ddmsimErrors.length?'; errors: '+window.ddmsimErrors.join('; '):'')+'.';\
if(imgs.length){var r=imgs[0].getBoundingClientRect();document.body.dataset.firstFigure=Math.round(r.top)+','+\
Math.round(r.height)+','+window.innerWidth+','+window.innerHeight;}});";

/// What the page shows, top-down.
pub struct Page<'a> {
    /// The figures a reader came for.
    pub headline: &'a [&'a WrittenFigure],
    /// The generated reading of them.
    pub reading: &'a [String],
    /// Every other figure.
    pub rest: &'a [&'a WrittenFigure],
    /// The tables, folded under a table of contents.
    pub sections: &'a [(String, String, TextTable)],
}

/// A figure inlined as an SVG data URI, with its caption and links to its SVG and the CSV of its numbers.
fn figure_html(f: &WrittenFigure, n: usize) -> String {
    let uri = base64::engine::general_purpose::STANDARD.encode(&f.svg);
    format!(
        "<figure id=\"figure-{stem}\">\n<img class=\"figure\" id=\"img-{stem}\" alt=\"{alt}\" \
         src=\"data:image/svg+xml;base64,{uri}\">\n<figcaption>Figure {n}. {caption} (<a href=\"figures/{stem}.svg\">SVG</a>, \
         <a class=\"numbers\" href=\"figures/{stem}.csv\">numbers</a>)</figcaption>\n</figure>\n",
        stem = escape_html(&f.stem),
        alt = escape_html(&f.caption),
        caption = escape_html(&f.caption),
    )
}

/// Writes the page to `path`: the headline figures and their reading first, then the other figures, then the
/// tables folded (`<details>`) under a table of contents, then the scenario.
pub fn write_page(path: &Path, data: &ReportData, page: &Page) -> Result<()> {
    let title = format!("ddmsim report: {}", data.name);
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{STYLE}</style>\n\
         <script>{ERROR_TRAP}</script>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape_html(&title),
        escape_html(&title),
    );
    html.push_str(
        "<nav><a href=\"#figures\">Figures</a><a href=\"#tables\">Tables</a><a href=\"#scenario\">Scenario</a></nav>\n",
    );
    let mut n = 0;
    for f in page.headline {
        n += 1;
        html.push_str(&figure_html(f, n));
    }
    html.push_str("<h2 id=\"reading\">Reading</h2>\n<ul>\n");
    for sentence in page.reading {
        let _ = writeln!(html, "<li>{}</li>", escape_html(sentence));
    }
    let _ = write!(
        html,
        "</ul>\n<p>{}</p>\n<h2 id=\"figures\">Figures</h2>\n",
        escape_html(MADE_BY)
    );
    for f in page.rest {
        n += 1;
        html.push_str(&figure_html(f, n));
    }
    html.push_str("<h2 id=\"tables\">Tables</h2>\n<ol class=\"toc\">\n");
    for (i, (heading, _, _)) in page.sections.iter().enumerate() {
        let _ = writeln!(
            html,
            "<li><a href=\"#table-{}\">{}</a></li>",
            i + 1,
            escape_html(heading)
        );
    }
    html.push_str("</ol>\n");
    for (i, (heading, text, table)) in page.sections.iter().enumerate() {
        let _ = write!(
            html,
            "<details id=\"table-{}\">\n<summary>{}</summary>\n<p>{}</p>\n{}</details>\n",
            i + 1,
            escape_html(heading),
            escape_html(text),
            table.html()
        );
    }
    let _ = write!(
        html,
        "<h2 id=\"scenario\">Scenario</h2>\n<pre>{}</pre>\n<p id=\"figure-status\">Figures not checked (scripts \
         off).</p>\n<script>{STATUS}</script>\n</body>\n</html>\n",
        escape_html(&data.scenario_yaml)
    );
    write_atomic(path, html.as_bytes())
}
