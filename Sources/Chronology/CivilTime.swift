/// Calendar arithmetic on the proleptic Gregorian calendar, without time zone data: what ISO 8601 text,
/// SigV4 timestamps and database temporal values need.
public enum CivilTime {
    /// Year, month and day of `days` since 1970-01-01 (Howard Hinnant's `civil_from_days`).
    public static func date(daysSince1970 days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthPrime = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthPrime + 2) / 5 + 1
        let month = monthPrime < 10 ? monthPrime + 3 : monthPrime - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// `YYYY-MM-DD`.
    public static func isoDate(daysSince1970 days: Int64) -> String {
        let (year, month, day) = date(daysSince1970: days)
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    /// `HH:MM:SS`, then `.` and the fraction (`fractionDigits` digits of `fraction`) when it is not zero.
    public static func isoTime(secondOfDay: Int64, fraction: Int64 = 0, fractionDigits: Int = 9) -> String {
        var text = "\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2))"
        if fraction != 0 { text += "." + pad(fraction, fractionDigits) }
        return text
    }

    /// `YYYY-MM-DDTHH:MM:SS[.fraction]` for `seconds` since 1970 (no zone designator).
    public static func isoDateTime(secondsSince1970 seconds: Int64, fraction: Int64 = 0, fractionDigits: Int = 9) -> String {
        let (days, secondOfDay) = split(seconds)
        return isoDate(daysSince1970: days) + "T" + isoTime(secondOfDay: secondOfDay, fraction: fraction, fractionDigits: fractionDigits)
    }

    /// `+HH:MM`, `-HH:MM` or `Z`.
    public static func isoOffset(seconds: Int64) -> String {
        if seconds == 0 { return "Z" }
        let sign = seconds < 0 ? "-" : "+"
        let magnitude = abs(seconds)
        return "\(sign)\(pad(magnitude / 3600, 2)):\(pad(magnitude / 60 % 60, 2))"
    }

    /// Days and second of day of `seconds` since 1970 (floor division, so times before 1970 work).
    public static func split(_ seconds: Int64) -> (days: Int64, secondOfDay: Int64) {
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 {
            secondOfDay += 86_400
            days -= 1
        }
        return (days, secondOfDay)
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
}
