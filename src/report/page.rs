//! `report.html`: one self-contained page with the scenario, the summary tables and every figure inlined as an
//! SVG data URI with its caption. A small script marks each figure loaded or broken and records script errors,
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
pre{background:#f7f7f7;padding:1em;overflow:auto;font-size:0.85em}nav a{margin-right:1em}";

/// Records errors before anything else runs.
const ERROR_TRAP: &str = "window.ddmsimErrors=[];window.addEventListener('error',function(e){\
window.ddmsimErrors.push(e.message||('failed to load '+((e.target&&e.target.id)||'a resource')));},true);";

/// After load: counts figures that decoded, and writes the result into `#figure-status` and `data-figures`.
const STATUS: &str = "window.addEventListener('load',function(){var imgs=document.querySelectorAll('img.figure');\
var ok=0;for(var i=0;i<imgs.length;i++){if(imgs[i].complete&&imgs[i].naturalWidth>0){ok++;}}\
var state=(ok===imgs.length&&window.ddmsimErrors.length===0)?'loaded':'broken';document.body.dataset.figures=state;\
document.getElementById('figure-status').textContent=ok+' of '+imgs.length+' figures loaded'+\
(window.ddmsimErrors.length?'; errors: '+window.ddmsimErrors.join('; '):'')+'.';});";

/// Writes the page to `path`.
pub fn write_page(
    path: &Path,
    data: &ReportData,
    sections: &[(String, String, TextTable)],
    figures: &[WrittenFigure],
) -> Result<()> {
    let title = format!("ddmsim report: {}", data.name);
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{STYLE}</style>\n\
         <script>{ERROR_TRAP}</script>\n</head>\n<body>\n<h1>{}</h1>\n<p>{}</p>\n",
        escape_html(&title),
        escape_html(&title),
        escape_html(MADE_BY),
    );
    html.push_str(
        "<nav><a href=\"#tables\">Tables</a><a href=\"#figures\">Figures</a><a href=\"#scenario\">Scenario</a></nav>\n",
    );
    html.push_str("<h2 id=\"tables\">Tables</h2>\n");
    for (heading, text, table) in sections {
        let _ = write!(
            html,
            "<h3>{}</h3>\n<p>{}</p>\n{}",
            escape_html(heading),
            escape_html(text),
            table.html()
        );
    }
    html.push_str("<h2 id=\"figures\">Figures</h2>\n");
    for (i, f) in figures.iter().enumerate() {
        let uri = base64::engine::general_purpose::STANDARD.encode(&f.svg);
        let _ = write!(
            html,
            "<figure id=\"figure-{stem}\">\n<img class=\"figure\" id=\"img-{stem}\" alt=\"{alt}\" \
             src=\"data:image/svg+xml;base64,{uri}\">\n<figcaption>Figure {n}. {caption}</figcaption>\n</figure>\n",
            stem = escape_html(&f.stem),
            alt = escape_html(&f.caption),
            n = i + 1,
            caption = escape_html(&f.caption),
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
