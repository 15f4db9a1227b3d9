/// Builds HTML text: every piece of data goes through ``escape(_:)``, markup is written by this module alone.
struct HTMLText {
    private(set) var text = ""

    /// `value` with `&`, `<`, `>`, `"` and `'` escaped, safe in text and in quoted attributes.
    static func escape(_ value: String) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for character in value {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    /// Appends markup as it is.
    mutating func raw(_ markup: String) {
        text += markup
    }

    /// Appends `value`, escaped.
    mutating func text(_ value: String) {
        text += Self.escape(value)
    }

    /// Appends `<tag attributes>value</tag>` with `value` escaped.
    mutating func element(_ tag: String, _ value: String, attributes: String = "") {
        text += "<\(tag)\(attributes.isEmpty ? "" : " " + attributes)>\(Self.escape(value))</\(tag)>"
    }

    /// Appends `<tag attributes>`, then what `body` appends, then `</tag>`.
    mutating func wrap(_ tag: String, attributes: String = "", _ body: (inout HTMLText) -> Void) {
        text += "<\(tag)\(attributes.isEmpty ? "" : " " + attributes)>"
        body(&self)
        text += "</\(tag)>"
    }

    /// Appends a table (in a wrapper that scrolls sideways on a narrow screen); `rowAttributes` adds attributes
    /// to a body row.
    mutating func table(columns: [String], rows: [[String]], attributes: String = "", rowAttributes: (Int) -> String = { _ in "" }) {
        wrap("div", attributes: "class=\"scroll\"") { html in
            html.wrap("table", attributes: attributes) { html in
                html.wrap("thead") { html in
                    html.wrap("tr") { html in
                        for column in columns { html.element("th", column, attributes: "scope=\"col\"") }
                    }
                }
                html.wrap("tbody") { html in
                    for (index, row) in rows.enumerated() {
                        html.wrap("tr", attributes: rowAttributes(index)) { html in
                            for cell in row {
                                html.element("td", cell, attributes: Self.isNumeric(cell) ? "class=\"num\"" : "")
                            }
                        }
                    }
                }
            }
        }
    }

    /// `dt`/`dd` pairs.
    mutating func definitions(_ pairs: [(String, String)]) {
        wrap("dl") { html in
            for (term, value) in pairs {
                html.element("dt", term)
                html.element("dd", value)
            }
        }
    }

    private static func isNumeric(_ cell: String) -> Bool {
        guard let first = cell.first else { return false }
        return first.isNumber || (first == "-" && cell.count > 1 && cell.dropFirst().first?.isNumber == true)
    }
}
