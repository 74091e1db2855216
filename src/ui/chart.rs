//! Small SVG charts drawn by us (no charting library): a line chart of daily series with a
//! light grid, a few axis labels, a legend, and a tooltip (`<title>`) on every point.

use leptos::prelude::*;

#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    /// A CSS colour.
    pub color: &'static str,
    /// One value per label; None leaves a gap.
    pub values: Vec<Option<f64>>,
}

const W: f64 = 640.0;
const H: f64 = 220.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;

/// A round number at or above `max`, so grid lines fall on readable values.
pub fn nice_ceiling(max: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * magnitude).find(|v| *v >= max).unwrap_or(10.0 * magnitude)
}

fn short(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if v >= 1000.0 {
        format!("{:.1}k", v / 1000.0)
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

#[component]
pub fn LineChart(
    /// For screen readers and tests (`data-testid="chart-{id}"`).
    id: &'static str,
    title: String,
    labels: Vec<String>,
    series: Vec<Series>,
    #[prop(optional)] unit: &'static str,
) -> impl IntoView {
    let n = labels.len().max(1);
    let top = nice_ceiling(series.iter().flat_map(|s| s.values.iter().flatten()).fold(0.0, |a: f64, b| a.max(*b)));
    let x = move |i: usize| LEFT + if n == 1 { (W - LEFT - RIGHT) / 2.0 } else { i as f64 * (W - LEFT - RIGHT) / (n - 1) as f64 };
    let y = move |v: f64| TOP + (H - TOP - BOTTOM) * (1.0 - v / top);
    let grid = (0..=4)
        .map(|k| {
            let v = top * k as f64 / 4.0;
            view! {
                <line x1=LEFT x2={W - RIGHT} y1=y(v) y2=y(v) class="stroke-slate-200 dark:stroke-slate-700" stroke-width="1" />
                <text x={LEFT - 6.0} y={y(v) + 4.0} text-anchor="end" class="fill-slate-500 text-[10px]">{format!("{}{unit}", short(v))}</text>
            }
        })
        .collect_view();
    let ticks: Vec<usize> = if n <= 3 { (0..n).collect() } else { vec![0, n / 2, n - 1] };
    let x_labels = ticks
        .into_iter()
        .map(|i| view! { <text x=x(i) y={H - 8.0} text-anchor="middle" class="fill-slate-500 text-[10px]">{labels.get(i).cloned().unwrap_or_default()}</text> })
        .collect_view();
    let lines = series
        .iter()
        .map(|s| {
            // Consecutive present values form one segment; a None breaks the line.
            let mut segments: Vec<String> = Vec::new();
            let mut current = String::new();
            for (i, v) in s.values.iter().enumerate() {
                match v {
                    Some(v) => current.push_str(&format!("{:.1},{:.1} ", x(i), y(*v))),
                    None if !current.is_empty() => segments.push(std::mem::take(&mut current)),
                    None => {}
                }
            }
            if !current.is_empty() {
                segments.push(current);
            }
            let points = s
                .values
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.map(|v| (i, v)))
                .map(|(i, v)| {
                    let tip = format!("{} · {}: {}{unit}", labels.get(i).cloned().unwrap_or_default(), s.name, short(v));
                    view! { <circle cx=x(i) cy=y(v) r="2.5" fill=s.color><title>{tip}</title></circle> }
                })
                .collect_view();
            let color = s.color;
            view! {
                <g>
                    {segments.into_iter().map(|p| view! { <polyline points=p fill="none" stroke=color stroke-width="2" stroke-linejoin="round" /> }).collect_view()}
                    {points}
                </g>
            }
        })
        .collect_view();
    let legend = series
        .iter()
        .map(|s| view! { <span class="inline-flex items-center gap-1 mr-4"><span class="inline-block w-3 h-3 rounded-sm" style=format!("background:{}", s.color)></span>{s.name.clone()}</span> })
        .collect_view();
    view! {
        <figure class="card p-4" data-testid=format!("chart-{id}")>
            <figcaption class="text-sm font-medium mb-2">{title.clone()}</figcaption>
            <svg viewBox=format!("0 0 {W} {H}") class="w-full h-auto" role="img" aria-label=title>
                {grid}
                {x_labels}
                {lines}
            </svg>
            <div class="mt-2 text-xs text-slate-600 dark:text-slate-400">{legend}</div>
        </figure>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_are_round() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(7.0), 10.0);
        assert_eq!(nice_ceiling(12.0), 20.0);
        assert_eq!(nice_ceiling(230.0), 250.0);
        assert_eq!(nice_ceiling(1000.0), 1000.0);
        assert_eq!(short(1500.0), "1.5k");
        assert_eq!(short(42.0), "42");
    }
}
