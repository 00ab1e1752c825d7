//! `--plot FILE.svg`: the convergence picture (in-flight limit, IOPS and P99 over time), as
//! three stacked panels sharing the time axis, one line per job (each job's time from its own
//! start), with a legend.

use crate::stats::TimePoint;

const W: f64 = 900.0;
const PANEL: f64 = 180.0;
const LEFT: f64 = 80.0;
const TOP: f64 = 30.0;

/// Line colours, one per job in turn.
const COLORS: [&str; 6] = [
    "#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#ff7f0e", "#17becf",
];

fn panel(out: &mut String, idx: usize, title: &str, series: &[Vec<(f64, f64)>], t_max: f64) {
    let y0 = TOP + idx as f64 * (PANEL + 40.0);
    let v_max = series
        .iter()
        .flatten()
        .map(|p| p.1)
        .fold(0.0, f64::max)
        .max(1e-9)
        * 1.1;
    let plot_w = W - LEFT - 20.0;
    out.push_str(&format!(
        "<text x=\"{LEFT}\" y=\"{:.1}\" font-size=\"14\">{title} (max {:.1})</text>\n",
        y0 - 8.0,
        v_max / 1.1
    ));
    out.push_str(&format!(
        "<rect x=\"{LEFT}\" y=\"{y0:.1}\" width=\"{plot_w:.1}\" height=\"{PANEL}\" fill=\"none\" stroke=\"#999\"/>\n"
    ));
    for k in 0..=4 {
        let v = v_max / 1.1 * k as f64 / 4.0;
        let y = y0 + PANEL - v / v_max * PANEL;
        out.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{v:.0}</text>\n",
            LEFT - 4.0,
            y + 3.0
        ));
    }
    for (i, pts) in series.iter().enumerate() {
        let path: Vec<String> = pts
            .iter()
            .map(|(t, v)| {
                format!(
                    "{:.1},{:.1}",
                    LEFT + t / t_max * plot_w,
                    y0 + PANEL - v / v_max * PANEL
                )
            })
            .collect();
        out.push_str(&format!(
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" points=\"{}\"/>\n",
            COLORS[i % COLORS.len()],
            path.join(" ")
        ));
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;")
}

/// The SVG document for the jobs' timelines (`(name, timeline)` each).
pub fn svg(title: &str, jobs: &[(String, &[TimePoint])]) -> String {
    let t_max = jobs
        .iter()
        .flat_map(|j| j.1)
        .map(|p| p.t)
        .fold(0.0, f64::max)
        .max(1e-3);
    let h = TOP + 3.0 * (PANEL + 40.0) + 10.0;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{h}\" font-family=\"sans-serif\">\n\
         <text x=\"{LEFT}\" y=\"16\" font-size=\"15\" font-weight=\"bold\">{}</text>\n",
        escape(title)
    );
    // The legend, right of the title.
    for (i, (name, _)) in jobs.iter().enumerate() {
        let x = W - 20.0 - 120.0 * (jobs.len() - i) as f64;
        out.push_str(&format!(
            "<rect x=\"{x:.1}\" y=\"6\" width=\"12\" height=\"12\" fill=\"{}\"/>\n\
             <text x=\"{:.1}\" y=\"16\" font-size=\"12\">{}</text>\n",
            COLORS[i % COLORS.len()],
            x + 16.0,
            escape(name)
        ));
    }
    let series = |f: &dyn Fn(&TimePoint) -> f64| -> Vec<Vec<(f64, f64)>> {
        jobs.iter()
            .map(|(_, tl)| tl.iter().map(|p| (p.t, f(p))).collect())
            .collect()
    };
    panel(
        &mut out,
        0,
        "in-flight limit",
        &series(&|p| p.limit as f64),
        t_max,
    );
    panel(&mut out, 1, "IOPS", &series(&|p| p.iops), t_max);
    panel(
        &mut out,
        2,
        "P99 latency (us)",
        &series(&|p| p.p99_us),
        t_max,
    );
    out.push_str(&format!(
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">time from each job's start: 0 - {t_max:.1} s</text>\n</svg>\n",
        W - 20.0,
        h - 2.0
    ));
    out
}
