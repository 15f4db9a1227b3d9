import Foundation
import MigrationCore

/// A line chart as inline SVG: one marker per sample, each series told apart by its marker's shape, its dash
/// pattern and a label in the legend, so it reads without colour and in print.
struct Chart {
    /// One line.
    struct Series {
        var label: String
        /// Points as (seconds since the start, value).
        var points: [(Double, Double)]
    }

    /// The marker shapes and dash patterns, in series order.
    private static let styles: [(marker: String, dash: String)] = [
        ("circle", ""), ("square", "6 3"), ("diamond", "2 3"), ("triangle", "8 3 2 3"),
    ]

    var title: String
    /// The quantity on the vertical axis (`keys/s`).
    var unit: String
    var series: [Series]
    /// Seconds the horizontal axis spans: the whole timeline, so that the charts of a page line up.
    var span: Double
    /// Formats a value on the vertical axis.
    var format: (Double) -> String

    private let width = 640.0
    private let height = 220.0
    private let left = 64.0
    private let right = 12.0
    private let top = 12.0
    private let bottom = 30.0

    /// Appends the chart: a `figure` with the SVG and a caption; `points` is the number of samples drawn.
    func render(into html: inout HTMLText) {
        let all = series.flatMap(\.points)
        let count = series.map(\.points.count).reduce(0, +)
        html.wrap("figure", attributes: "class=\"chart\" data-chart=\"\(HTMLText.escape(title))\" data-points=\"\(count)\"") { html in
            html.element("figcaption", title)
            guard !all.isEmpty else {
                html.element("p", "no samples", attributes: "class=\"empty\"")
                return
            }
            let maxX = max(span, all.map(\.0).max() ?? 1, 1)
            let maxY = Self.niceCeiling(all.map(\.1).max() ?? 0)
            func x(_ value: Double) -> Double { left + value / maxX * (width - left - right) }
            func y(_ value: Double) -> Double { height - bottom - value / maxY * (height - top - bottom) }
            html.raw("<svg viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"\(HTMLText.escape(title))\" preserveAspectRatio=\"xMidYMid meet\">")
            // Axes and grid: four lines labelled with their value, the time at the start, middle and end.
            for step in 0...4 {
                let value = maxY * Double(step) / 4
                let position = Self.coordinate(y(value))
                html.raw("<line class=\"grid\" x1=\"\(Self.coordinate(left))\" y1=\"\(position)\" x2=\"\(Self.coordinate(width - right))\" y2=\"\(position)\"/>")
                html.raw("<text class=\"axis\" x=\"\(Self.coordinate(left - 6))\" y=\"\(Self.coordinate(y(value) + 4))\" text-anchor=\"end\">")
                html.text(format(value))
                html.raw("</text>")
            }
            for fraction in [0.0, 0.5, 1.0] {
                let anchor = fraction == 0 ? "start" : fraction == 1 ? "end" : "middle"
                html.raw("<text class=\"axis\" x=\"\(Self.coordinate(x(maxX * fraction)))\" y=\"\(Self.coordinate(height - 10))\" text-anchor=\"\(anchor)\">")
                html.text(Format.duration(maxX * fraction))
                html.raw("</text>")
            }
            html.raw("<text class=\"axis unit\" x=\"\(Self.coordinate(left))\" y=\"\(Self.coordinate(top - 2))\">")
            html.text(unit)
            html.raw("</text>")
            for (index, line) in series.enumerated() {
                let style = Self.styles[index % Self.styles.count]
                let coordinates = line.points.map { "\(Self.coordinate(x($0.0))),\(Self.coordinate(y($0.1)))" }
                html.raw("<g class=\"series s\(index % Self.styles.count)\" data-series=\"\(HTMLText.escape(line.label))\" data-samples=\"\(line.points.count)\">")
                html.raw("<polyline points=\"\(coordinates.joined(separator: " "))\"\(style.dash.isEmpty ? "" : " stroke-dasharray=\"\(style.dash)\"")/>")
                for point in line.points {
                    html.raw(Self.marker(style.marker, x: x(point.0), y: y(point.1)))
                }
                html.raw("</g>")
            }
            html.raw("</svg>")
            html.wrap("ul", attributes: "class=\"legend\"") { html in
                for (index, line) in series.enumerated() {
                    let style = Self.styles[index % Self.styles.count]
                    let peak = line.points.map(\.1).max() ?? 0
                    html.wrap("li") { html in
                        html.raw("<svg class=\"key\" viewBox=\"0 0 36 12\" aria-hidden=\"true\"><g class=\"series s\(index % Self.styles.count)\">")
                        html.raw("<polyline points=\"0,6 36,6\"\(style.dash.isEmpty ? "" : " stroke-dasharray=\"\(style.dash)\"")/>")
                        html.raw(Self.marker(style.marker, x: 18, y: 6, legend: true))
                        html.raw("</g></svg>")
                        html.text(" \(line.label) (\(style.marker) marker): \(line.points.count) samples, peak \(format(peak)) \(unit)")
                    }
                }
            }
        }
    }

    /// A marker of `shape` centred on `x`, `y`; chart markers have class `point` (one per sample).
    private static func marker(_ shape: String, x: Double, y: Double, legend: Bool = false) -> String {
        let kind = legend ? "mark" : "point"
        switch shape {
        case "square":
            return "<rect class=\"\(kind)\" x=\"\(coordinate(x - 2.5))\" y=\"\(coordinate(y - 2.5))\" width=\"5\" height=\"5\"/>"
        case "diamond":
            return "<polygon class=\"\(kind)\" points=\"\(coordinate(x)),\(coordinate(y - 3.5)) \(coordinate(x + 3.5)),\(coordinate(y)) \(coordinate(x)),\(coordinate(y + 3.5)) \(coordinate(x - 3.5)),\(coordinate(y))\"/>"
        case "triangle":
            return "<polygon class=\"\(kind)\" points=\"\(coordinate(x)),\(coordinate(y - 3.5)) \(coordinate(x + 3.5)),\(coordinate(y + 3)) \(coordinate(x - 3.5)),\(coordinate(y + 3))\"/>"
        default:
            return "<circle class=\"\(kind)\" cx=\"\(coordinate(x))\" cy=\"\(coordinate(y))\" r=\"2.5\"/>"
        }
    }

    /// A coordinate with one decimal.
    private static func coordinate(_ value: Double) -> String {
        String(format: "%.1f", value)
    }

    /// The smallest of 1, 2 or 5 times a power of ten at or above `value` (1 when `value` is 0).
    static func niceCeiling(_ value: Double) -> Double {
        guard value > 0, value.isFinite else { return 1 }
        let power = pow(10, floor(log10(value)))
        for factor in [1.0, 2.0, 5.0, 10.0] where factor * power >= value {
            return factor * power
        }
        return 10 * power
    }
}
