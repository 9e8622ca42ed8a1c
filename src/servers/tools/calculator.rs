//! The seed's `Calculator`: add, subtract, multiply, divide, power, with
//! Python's number rules. Integers stay integers where Python's would
//! (`2 + 3` is `5`, `2 ** 10` is `1024`), true division always gives a
//! float (`6 / 3` is `2.0`), and anything mixed with a float is a float.
//!
//! Where Python would grow an integer beyond 64 bits, the result becomes a
//! float (JSON numbers here are 64-bit); where Python would fail (division
//! by zero, zero to a negative power, a complex result, an overflow) the
//! tool fails with a message saying why.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Number;

/// The two operands of every calculator tool.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct Operands {
    /// The first operand.
    pub a: Number,
    /// The second operand.
    pub b: Number,
}

/// What a calculator tool answers.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct CalcResult {
    /// The result: an integer when both operands are integers and the
    /// operation keeps integers (Python's rules), otherwise a float.
    pub result: Number,
}

/// An operand as Python sees it: an int or a float.
#[derive(Debug, Clone, Copy)]
enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    fn of(n: &Number) -> Num {
        if let Some(i) = n.as_i64() {
            Num::Int(i.into())
        } else if let Some(u) = n.as_u64() {
            Num::Int(u.into())
        } else {
            Num::Float(n.as_f64().unwrap_or(f64::NAN))
        }
    }

    fn float(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    fn is_zero(self) -> bool {
        match self {
            Num::Int(i) => i == 0,
            Num::Float(f) => f == 0.0,
        }
    }
}

/// An integer result, as a float if it does not fit in 64 bits.
fn int(i: i128) -> Result<Number, String> {
    if let Ok(i) = i64::try_from(i) {
        Ok(i.into())
    } else if let Ok(u) = u64::try_from(i) {
        Ok(u.into())
    } else {
        float(i as f64)
    }
}

fn float(f: f64) -> Result<Number, String> {
    if f.is_nan() {
        return Err("the result is not a real number".into());
    }
    Number::from_f64(f)
        .ok_or_else(|| "the result is too large to represent (it overflows a 64-bit float)".into())
}

/// An integer operation, falling back to floats when it overflows `i128`
/// (beyond which the result cannot stay an integer here anyway).
fn arith(
    a: &Number,
    b: &Number,
    ints: fn(i128, i128) -> Option<i128>,
    floats: fn(f64, f64) -> f64,
) -> Result<CalcResult, String> {
    let result = match (Num::of(a), Num::of(b)) {
        (Num::Int(x), Num::Int(y)) => match ints(x, y) {
            Some(r) => int(r)?,
            None => float(floats(x as f64, y as f64))?,
        },
        (x, y) => float(floats(x.float(), y.float()))?,
    };
    Ok(CalcResult { result })
}

/// `a + b`.
pub fn add(a: &Number, b: &Number) -> Result<CalcResult, String> {
    arith(a, b, i128::checked_add, |x, y| x + y)
}

/// `a - b`.
pub fn subtract(a: &Number, b: &Number) -> Result<CalcResult, String> {
    arith(a, b, i128::checked_sub, |x, y| x - y)
}

/// `a * b`.
pub fn multiply(a: &Number, b: &Number) -> Result<CalcResult, String> {
    arith(a, b, i128::checked_mul, |x, y| x * y)
}

/// `a / b`, always a float (Python's true division); fails with "Division
/// by zero" as the seed does.
pub fn divide(a: &Number, b: &Number) -> Result<CalcResult, String> {
    let (x, y) = (Num::of(a), Num::of(b));
    if y.is_zero() {
        return Err("Division by zero".into());
    }
    Ok(CalcResult {
        result: float(x.float() / y.float())?,
    })
}

/// `a ** b`: an integer for an integer base and a non-negative integer
/// exponent, a float otherwise.
pub fn power(a: &Number, b: &Number) -> Result<CalcResult, String> {
    let (x, y) = (Num::of(a), Num::of(b));
    let negative_exponent = y.float() < 0.0;
    if x.is_zero() && negative_exponent {
        return Err("Division by zero: 0 cannot be raised to a negative power".into());
    }
    if let (Num::Int(base), Num::Int(exp)) = (x, y) {
        if exp >= 0 {
            let exact = u32::try_from(exp).ok().and_then(|e| base.checked_pow(e));
            if let Some(r) = exact {
                return Ok(CalcResult { result: int(r)? });
            }
        }
    }
    let r = x.float().powf(y.float());
    if r.is_nan() {
        return Err(format!(
            "{} ** {} has no real result (a negative base needs a whole exponent)",
            a, b
        ));
    }
    Ok(CalcResult { result: float(r)? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn n(v: serde_json::Value) -> Number {
        serde_json::from_value(v).unwrap()
    }

    fn r(res: Result<CalcResult, String>) -> String {
        res.map(|r| r.result.to_string()).unwrap_or_else(|e| e)
    }

    #[test]
    fn integers_stay_integers_as_in_python() {
        assert_eq!(r(add(&n(json!(2)), &n(json!(3)))), "5");
        assert_eq!(r(subtract(&n(json!(2)), &n(json!(3)))), "-1");
        assert_eq!(r(multiply(&n(json!(-4)), &n(json!(3)))), "-12");
        assert_eq!(r(power(&n(json!(2)), &n(json!(10)))), "1024");
        assert_eq!(r(power(&n(json!(-2)), &n(json!(3)))), "-8");
    }

    #[test]
    fn floats_and_true_division() {
        assert_eq!(r(add(&n(json!(0.5)), &n(json!(2)))), "2.5");
        assert_eq!(r(add(&n(json!(2.0)), &n(json!(3)))), "5.0");
        assert_eq!(r(divide(&n(json!(6)), &n(json!(3)))), "2.0");
        assert_eq!(r(divide(&n(json!(1)), &n(json!(4)))), "0.25");
        assert_eq!(r(power(&n(json!(2)), &n(json!(-1)))), "0.5");
        assert_eq!(r(power(&n(json!(9)), &n(json!(0.5)))), "3.0");
    }

    #[test]
    fn failures_say_why() {
        assert_eq!(r(divide(&n(json!(1)), &n(json!(0)))), "Division by zero");
        assert_eq!(r(divide(&n(json!(1)), &n(json!(0.0)))), "Division by zero");
        assert!(r(power(&n(json!(0)), &n(json!(-1)))).contains("negative power"));
        assert!(r(power(&n(json!(-8)), &n(json!(0.5)))).contains("no real result"));
        assert!(r(multiply(&n(json!(1e308)), &n(json!(10)))).contains("too large"));
        assert!(r(power(&n(json!(10.0)), &n(json!(400)))).contains("too large"));
    }

    #[test]
    fn beyond_64_bits_becomes_a_float() {
        let big = n(json!(u64::MAX));
        assert_eq!(r(add(&big, &n(json!(0)))), u64::MAX.to_string());
        let sum = add(&big, &big).unwrap().result;
        assert!(sum.is_f64());
        assert_eq!(sum.as_f64(), Some(2.0 * u64::MAX as f64));
        let p = power(&n(json!(10)), &n(json!(30))).unwrap().result;
        assert_eq!(p.as_f64(), Some(1e30));
    }
}
