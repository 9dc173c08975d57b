//! The GOST R 34.10 curves (short Weierstrass form) and the one operation verification needs:
//! `x(u·P + v·Q) mod q`.
//!
//! Points are kept in Jacobian coordinates over Montgomery-form field elements; the two
//! scalars are processed together (Shamir's trick) with affine table entries and mixed adds.
// Indices below are loop counters bounded by the const-generic width `N`; none comes from input.
#![allow(clippy::indexing_slicing)]

use super::field::{self, Limbs, Modulus};

/// The public parameters of one curve, as published (hexadecimal, big-endian).
#[derive(Debug)]
pub struct Params {
    /// A short name for reports, e.g. `tc26-512-A`.
    pub name: &'static str,
    /// Field prime.
    pub p: &'static str,
    /// Coefficient a of y² = x³ + ax + b.
    pub a: &'static str,
    /// Coefficient b.
    pub b: &'static str,
    /// Prime order of the base point.
    pub q: &'static str,
    /// Base point x.
    pub x: &'static str,
    /// Base point y.
    pub y: &'static str,
}

/// A curve ready for arithmetic on `N` limbs.
#[derive(Debug)]
pub struct Curve<const N: usize> {
    /// The published parameters it was built from.
    pub params: &'static Params,
    fp: Modulus<N>,
    fq: Modulus<N>,
    a: Limbs<N>,
    b: Limbs<N>,
    g: Affine<N>,
    /// Whether a = -3, which allows the cheaper doubling (CryptoPro A/B/C, TC26 512-A/B).
    a_is_minus_3: bool,
}

/// An affine point, coordinates in Montgomery form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Affine<const N: usize> {
    x: Limbs<N>,
    y: Limbs<N>,
}

/// A Jacobian point (X/Z², Y/Z³); Z = 0 is the point at infinity.
#[derive(Debug, Clone, Copy)]
struct Jacobian<const N: usize> {
    x: Limbs<N>,
    y: Limbs<N>,
    z: Limbs<N>,
}

impl<const N: usize> Curve<N> {
    /// Builds the curve; `None` if a constant does not parse or does not fit (a table error,
    /// caught by the tests that build every curve).
    pub fn new(params: &'static Params) -> Option<Self> {
        let fp = Modulus::new(field::from_hex(params.p)?)?;
        let fq = Modulus::new(field::from_hex(params.q)?)?;
        let a = fp.to_mont(&field::from_hex(params.a)?);
        let b = fp.to_mont(&field::from_hex(params.b)?);
        let g = Affine {
            x: fp.to_mont(&field::from_hex(params.x)?),
            y: fp.to_mont(&field::from_hex(params.y)?),
        };
        let three = fp.to_mont(&field::from_hex("3")?);
        let a_is_minus_3 = fp.add(&a, &three) == [0; N];
        let curve = Curve {
            params,
            fp,
            fq,
            a,
            b,
            g,
            a_is_minus_3,
        };
        curve.on_curve(&curve.g).then_some(curve)
    }

    /// Bytes in one coordinate or scalar (32 or 64).
    pub fn coordinate_len(&self) -> usize {
        8 * N
    }

    fn on_curve(&self, p: &Affine<N>) -> bool {
        let f = &self.fp;
        let y2 = f.square(&p.y);
        let x3 = f.mul(&f.square(&p.x), &p.x);
        let rhs = f.add(&f.add(&x3, &f.mul(&self.a, &p.x)), &self.b);
        y2 == rhs
    }

    /// Verifies a GOST R 34.10 signature `(r, s)` on the digest value `alpha` (already read
    /// as an integer in the byte order of its family) with public key `(qx, qy)`. All inputs
    /// are plain integers; false for anything out of range or off the curve.
    pub fn verify(
        &self,
        qx: &Limbs<N>,
        qy: &Limbs<N>,
        alpha: &Limbs<N>,
        r: &Limbs<N>,
        s: &Limbs<N>,
    ) -> bool {
        let (p, q) = (self.fp.value(), self.fq.value());
        if !field::less_than(qx, p) || !field::less_than(qy, p) {
            return false;
        }
        let key = Affine {
            x: self.fp.to_mont(qx),
            y: self.fp.to_mont(qy),
        };
        if !self.on_curve(&key) {
            return false;
        }
        if field::is_zero(r)
            || field::is_zero(s)
            || !field::less_than(r, q)
            || !field::less_than(s, q)
        {
            return false;
        }
        let fq = &self.fq;
        // e = alpha mod q, and 1 if that is zero (GOST R 34.10-2012 §6.2 step 2).
        let mut e = fq.to_mont(alpha);
        if field::is_zero(&e) {
            e = fq.one();
        }
        let v = fq.invert(&e);
        let z1 = fq.to_plain(&fq.mul(&fq.to_mont(s), &v));
        let z2 = fq.to_plain(&fq.neg(&fq.mul(&fq.to_mont(r), &v)));
        let c = self.shamir(&z1, &self.g, &z2, &key);
        if field::is_zero(&c.z) {
            return false;
        }
        // x_C mod q = r, without an inversion: x_C is some r + k·q below p, and
        // x_C = X/Z², so test X = (r + k·q)·Z² for each such candidate (k ≤ 4 here).
        let zz = self.fp.square(&c.z);
        let mut candidate = *r;
        loop {
            if self.fp.mul(&self.fp.to_mont(&candidate), &zz) == c.x {
                return true;
            }
            let (next, carry) = field::add_limbs(&candidate, q);
            if carry || !field::less_than(&next, p) {
                return false;
            }
            candidate = next;
        }
    }

    /// `u·P + v·Q` with one shared doubling chain.
    fn shamir(&self, u: &Limbs<N>, p: &Affine<N>, v: &Limbs<N>, q: &Affine<N>) -> Jacobian<N> {
        let pq = self.to_affine(&self.add_mixed(&self.lift(p), q));
        let mut acc = self.infinity();
        for i in (0..N).rev() {
            for bit in (0..64).rev() {
                acc = self.double(&acc);
                let entry = match ((u[i] >> bit) & 1, (v[i] >> bit) & 1) {
                    (1, 1) => pq.as_ref(),
                    (1, 0) => Some(p),
                    (0, 1) => Some(q),
                    _ => continue,
                };
                acc = match entry {
                    Some(e) => self.add_mixed(&acc, e),
                    // P + Q is infinity only when Q = -P: adding it changes nothing.
                    None => acc,
                };
            }
        }
        acc
    }

    fn infinity(&self) -> Jacobian<N> {
        Jacobian {
            x: self.fp.one(),
            y: self.fp.one(),
            z: [0; N],
        }
    }

    fn lift(&self, p: &Affine<N>) -> Jacobian<N> {
        Jacobian {
            x: p.x,
            y: p.y,
            z: self.fp.one(),
        }
    }

    fn to_affine(&self, p: &Jacobian<N>) -> Option<Affine<N>> {
        if field::is_zero(&p.z) {
            return None;
        }
        let f = &self.fp;
        let zi = f.invert(&p.z);
        let zi2 = f.square(&zi);
        Some(Affine {
            x: f.mul(&p.x, &zi2),
            y: f.mul(&p.y, &f.mul(&zi2, &zi)),
        })
    }

    /// Doubling for any `a` ("dbl-2007-bl", Explicit-Formulas Database), or for a = -3
    /// ("dbl-2001-b"), which saves three multiplications and is most of the work.
    fn double(&self, p: &Jacobian<N>) -> Jacobian<N> {
        if field::is_zero(&p.z) {
            return *p;
        }
        let f = &self.fp;
        if self.a_is_minus_3 {
            let delta = f.square(&p.z);
            let gamma = f.square(&p.y);
            let beta = f.mul(&p.x, &gamma);
            let t = f.mul(&f.sub(&p.x, &delta), &f.add(&p.x, &delta));
            let alpha = f.add(&f.add(&t, &t), &t);
            let beta4 = {
                let b2 = f.add(&beta, &beta);
                f.add(&b2, &b2)
            };
            let x3 = f.sub(&f.square(&alpha), &f.add(&beta4, &beta4));
            let z3 = f.sub(&f.sub(&f.square(&f.add(&p.y, &p.z)), &gamma), &delta);
            let g8 = {
                let g = f.square(&gamma);
                let g2 = f.add(&g, &g);
                let g4 = f.add(&g2, &g2);
                f.add(&g4, &g4)
            };
            let y3 = f.sub(&f.mul(&alpha, &f.sub(&beta4, &x3)), &g8);
            return Jacobian {
                x: x3,
                y: y3,
                z: z3,
            };
        }
        let xx = f.square(&p.x);
        let yy = f.square(&p.y);
        let yyyy = f.square(&yy);
        let zz = f.square(&p.z);
        let t = f.sub(&f.sub(&f.square(&f.add(&p.x, &yy)), &xx), &yyyy);
        let s = f.add(&t, &t);
        let m = f.add(
            &f.add(&f.add(&xx, &xx), &xx),
            &f.mul(&self.a, &f.square(&zz)),
        );
        let x3 = f.sub(&f.square(&m), &f.add(&s, &s));
        let y8 = {
            let y2 = f.add(&yyyy, &yyyy);
            let y4 = f.add(&y2, &y2);
            f.add(&y4, &y4)
        };
        let y3 = f.sub(&f.mul(&m, &f.sub(&s, &x3)), &y8);
        let z3 = f.sub(&f.sub(&f.square(&f.add(&p.y, &p.z)), &yy), &zz);
        Jacobian {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// `p + q` with `q` affine ("madd-2007-bl"), including the doubling and inverse cases.
    fn add_mixed(&self, p: &Jacobian<N>, q: &Affine<N>) -> Jacobian<N> {
        if field::is_zero(&p.z) {
            return self.lift(q);
        }
        let f = &self.fp;
        let z1z1 = f.square(&p.z);
        let u2 = f.mul(&q.x, &z1z1);
        let s2 = f.mul(&q.y, &f.mul(&p.z, &z1z1));
        let h = f.sub(&u2, &p.x);
        let r_half = f.sub(&s2, &p.y);
        if field::is_zero(&h) {
            return if field::is_zero(&r_half) {
                self.double(p)
            } else {
                self.infinity()
            };
        }
        let hh = f.square(&h);
        let i = {
            let h2 = f.add(&hh, &hh);
            f.add(&h2, &h2)
        };
        let j = f.mul(&h, &i);
        let r = f.add(&r_half, &r_half);
        let v = f.mul(&p.x, &i);
        let x3 = f.sub(&f.sub(&f.square(&r), &j), &f.add(&v, &v));
        let yj = f.mul(&p.y, &j);
        let y3 = f.sub(&f.mul(&r, &f.sub(&v, &x3)), &f.add(&yj, &yj));
        let z3 = f.sub(&f.sub(&f.square(&f.add(&p.z, &h)), &z1z1), &hh);
        Jacobian {
            x: x3,
            y: y3,
            z: z3,
        }
    }
}
