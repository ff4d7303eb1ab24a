//! Plane geometry for text regions: points, quads, convex hull and the
//! minimum-area rectangle.
//!
//! We own the min-area rectangle because `rten_imageproc::min_area_rect`
//! (0.27) returns degenerate rectangles (0.1–2 px high) for long, thin
//! text-line hulls, silently dropping most lines of a page.

use serde::{Deserialize, Serialize};

/// A point in pixel coordinates (x to the right, y down).
#[derive(Clone, Copy, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct Point {
    /// Horizontal coordinate.
    pub x: f32,
    /// Vertical coordinate.
    pub y: f32,
}

impl Point {
    /// Makes a point.
    pub const fn new(x: f32, y: f32) -> Self {
        Self { x, y }
    }

    fn sub(self, o: Point) -> Point {
        Point::new(self.x - o.x, self.y - o.y)
    }

    /// Euclidean distance to `o`.
    pub fn dist(self, o: Point) -> f32 {
        let d = self.sub(o);
        (d.x * d.x + d.y * d.y).sqrt()
    }

    /// Linear interpolation from `self` (t = 0) to `o` (t = 1).
    pub fn lerp(self, o: Point, t: f32) -> Point {
        Point::new(self.x + (o.x - self.x) * t, self.y + (o.y - self.y) * t)
    }
}

fn cross(o: Point, a: Point, b: Point) -> f64 {
    let (ax, ay) = (f64::from(a.x - o.x), f64::from(a.y - o.y));
    let (bx, by) = (f64::from(b.x - o.x), f64::from(b.y - o.y));
    ax * by - ay * bx
}

/// A quadrilateral with corners in the order top-left, top-right,
/// bottom-right, bottom-left (as PP-OCR orders them). For detected text it is
/// a rotated rectangle; the "top" edge p0→p1 runs along the text.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Quad(pub [Point; 4]);

impl Quad {
    /// Axis-aligned rectangle `[x0, y0, x1, y1]` as a quad.
    pub fn from_rect(x0: f32, y0: f32, x1: f32, y1: f32) -> Self {
        Quad([Point::new(x0, y0), Point::new(x1, y0), Point::new(x1, y1), Point::new(x0, y1)])
    }

    /// Length of the text direction (longest of the two "horizontal" edges).
    pub fn width(&self) -> f32 {
        let p = &self.0;
        p[0].dist(p[1]).max(p[3].dist(p[2]))
    }

    /// Length across the text direction.
    pub fn height(&self) -> f32 {
        let p = &self.0;
        p[0].dist(p[3]).max(p[1].dist(p[2]))
    }

    /// Axis-aligned bounding box `[x0, y0, x1, y1]`.
    pub fn bounds(&self) -> [f32; 4] {
        let mut b = [f32::MAX, f32::MAX, f32::MIN, f32::MIN];
        for p in &self.0 {
            b[0] = b[0].min(p.x);
            b[1] = b[1].min(p.y);
            b[2] = b[2].max(p.x);
            b[3] = b[3].max(p.y);
        }
        b
    }

    /// Maps every corner through `f`.
    pub fn map(&self, f: impl Fn(Point) -> Point) -> Quad {
        Quad(self.0.map(f))
    }

    /// The sub-quad between fractions `t0..t1` of the text direction.
    pub fn slice(&self, t0: f32, t1: f32) -> Quad {
        let p = &self.0;
        Quad([p[0].lerp(p[1], t0), p[0].lerp(p[1], t1), p[3].lerp(p[2], t1), p[3].lerp(p[2], t0)])
    }

    /// The same region read upside down (corners rotated by two places).
    pub fn rotated_180(&self) -> Quad {
        let p = &self.0;
        Quad([p[2], p[3], p[0], p[1]])
    }

    /// Whether `pt` lies inside this (convex) quad.
    pub fn contains(&self, pt: Point) -> bool {
        let p = &self.0;
        let mut sign = 0.0f64;
        for i in 0..4 {
            let c = cross(p[i], p[(i + 1) % 4], pt);
            if c != 0.0 {
                if sign != 0.0 && (c > 0.0) != (sign > 0.0) {
                    return false;
                }
                sign = c;
            }
        }
        true
    }

    /// Orders four corners the way PP-OCR does (`get_mini_boxes`): of the two
    /// leftmost points the upper is top-left, of the two rightmost the upper is
    /// top-right.
    pub fn from_unordered(mut pts: [Point; 4]) -> Quad {
        pts.sort_by(|a, b| a.x.total_cmp(&b.x).then(a.y.total_cmp(&b.y)));
        let (tl, bl) = if pts[0].y <= pts[1].y { (pts[0], pts[1]) } else { (pts[1], pts[0]) };
        let (tr, br) = if pts[2].y <= pts[3].y { (pts[2], pts[3]) } else { (pts[3], pts[2]) };
        Quad([tl, tr, br, bl])
    }
}

/// Convex hull by Andrew's monotone chain, counter-clockwise in a y-up frame,
/// without collinear points. Returns the input (deduplicated) when it has
/// fewer than three distinct points.
pub fn convex_hull(points: &[Point]) -> Vec<Point> {
    let mut pts: Vec<Point> = points.to_vec();
    pts.sort_by(|a, b| a.x.total_cmp(&b.x).then(a.y.total_cmp(&b.y)));
    pts.dedup();
    if pts.len() < 3 {
        return pts;
    }
    let mut hull: Vec<Point> = Vec::with_capacity(pts.len() * 2);
    for pass in 0..2 {
        let start = hull.len();
        let iter: Box<dyn Iterator<Item = &Point>> =
            if pass == 0 { Box::new(pts.iter()) } else { Box::new(pts.iter().rev()) };
        for &p in iter {
            while hull.len() >= start + 2 && cross(hull[hull.len() - 2], hull[hull.len() - 1], p) <= 0.0 {
                hull.pop();
            }
            hull.push(p);
        }
        hull.pop(); // the last point starts the other chain
    }
    hull
}

/// A rotated rectangle: centre, side lengths and the unit vector of the
/// `width` side.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RotatedRect {
    /// Centre of the rectangle.
    pub center: Point,
    /// Length along `dir`.
    pub width: f32,
    /// Length across `dir`.
    pub height: f32,
    /// Unit vector along the width side.
    pub dir: Point,
}

impl RotatedRect {
    /// Area in square pixels.
    pub fn area(&self) -> f32 {
        self.width * self.height
    }

    /// Grows every side outward by `d` pixels.
    pub fn inflate(&self, d: f32) -> RotatedRect {
        RotatedRect { width: self.width + 2.0 * d, height: self.height + 2.0 * d, ..*self }
    }

    /// The four corners, ordered as PP-OCR orders them.
    pub fn corners(&self) -> Quad {
        let (u, v) = (self.dir, Point::new(-self.dir.y, self.dir.x));
        let (hw, hh) = (self.width / 2.0, self.height / 2.0);
        let c = self.center;
        let at = |a: f32, b: f32| Point::new(c.x + u.x * a + v.x * b, c.y + u.y * a + v.y * b);
        Quad::from_unordered([at(-hw, -hh), at(hw, -hh), at(hw, hh), at(-hw, hh)])
    }
}

/// Minimum-area enclosing rectangle by rotating calipers over the convex hull:
/// the optimal rectangle has one side collinear with a hull edge, so trying
/// every edge direction is exact.
pub fn min_area_rect(points: &[Point]) -> Option<RotatedRect> {
    let hull = convex_hull(points);
    match hull.len() {
        0 => return None,
        1 => return Some(RotatedRect { center: hull[0], width: 0.0, height: 0.0, dir: Point::new(1.0, 0.0) }),
        _ => {}
    }
    let mut best: Option<(f64, RotatedRect)> = None;
    for i in 0..hull.len() {
        let (a, b) = (hull[i], hull[(i + 1) % hull.len()]);
        let (dx, dy) = (f64::from(b.x - a.x), f64::from(b.y - a.y));
        let len = (dx * dx + dy * dy).sqrt();
        if len == 0.0 {
            continue;
        }
        let (ux, uy) = (dx / len, dy / len);
        let (mut min_u, mut max_u, mut min_v, mut max_v) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for p in &hull {
            let (px, py) = (f64::from(p.x), f64::from(p.y));
            let pu = px * ux + py * uy;
            let pv = -px * uy + py * ux;
            min_u = min_u.min(pu);
            max_u = max_u.max(pu);
            min_v = min_v.min(pv);
            max_v = max_v.max(pv);
        }
        let area = (max_u - min_u) * (max_v - min_v);
        if best.as_ref().is_none_or(|(a, _)| area < *a - 1e-9) {
            let (cu, cv) = ((min_u + max_u) / 2.0, (min_v + max_v) / 2.0);
            let center = Point::new((cu * ux - cv * uy) as f32, (cu * uy + cv * ux) as f32);
            best = Some((
                area,
                RotatedRect {
                    center,
                    width: (max_u - min_u) as f32,
                    height: (max_v - min_v) as f32,
                    dir: Point::new(ux as f32, uy as f32),
                },
            ));
        }
    }
    best.map(|(_, r)| r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rect_points(cx: f32, cy: f32, w: f32, h: f32, angle_deg: f32) -> Vec<Point> {
        let (s, c) = angle_deg.to_radians().sin_cos();
        let mut pts = Vec::new();
        // dense samples of the boundary, like the runs of a text line
        for i in 0..=200 {
            let t = i as f32 / 200.0 - 0.5;
            for &(a, b) in &[(t * w, -h / 2.0), (t * w, h / 2.0), (-w / 2.0, t * h), (w / 2.0, t * h)] {
                pts.push(Point::new(cx + a * c - b * s, cy + a * s + b * c));
            }
        }
        pts
    }

    #[test]
    fn min_area_rect_recovers_long_thin_lines() {
        // (width, height, angle): long text lines are where rten's version fails.
        let cases =
            [(1800.0, 22.0, 0.0), (1800.0, 22.0, 1.5), (900.0, 18.0, -3.0), (40.0, 30.0, 30.0), (600.0, 9.0, 89.0)];
        for (w, h, ang) in cases {
            let r = min_area_rect(&rect_points(500.0, 400.0, w, h, ang)).unwrap();
            let (rw, rh) = if r.width >= r.height { (r.width, r.height) } else { (r.height, r.width) };
            assert!((rw - w).abs() < 0.5, "w {w} h {h} a {ang}: got {rw}x{rh}");
            assert!((rh - h).abs() < 0.5, "w {w} h {h} a {ang}: got {rw}x{rh}");
            assert!((r.center.x - 500.0).abs() < 0.5 && (r.center.y - 400.0).abs() < 0.5);
        }
    }

    #[test]
    fn hull_drops_interior_and_collinear_points() {
        let pts = [(0., 0.), (2., 0.), (1., 0.), (2., 2.), (0., 2.), (1., 1.)].map(|(x, y)| Point::new(x, y));
        let hull = convex_hull(&pts);
        assert_eq!(hull.len(), 4);
        assert!(!hull.contains(&Point::new(1.0, 1.0)));
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        assert!(min_area_rect(&[]).is_none());
        let one = min_area_rect(&[Point::new(3.0, 4.0)]).unwrap();
        assert_eq!(one.area(), 0.0);
        let line = min_area_rect(&[Point::new(0.0, 0.0), Point::new(10.0, 0.0), Point::new(5.0, 0.0)]).unwrap();
        assert!((line.width.max(line.height) - 10.0).abs() < 1e-4);
    }

    #[test]
    fn corners_are_ordered_tl_tr_br_bl() {
        let r = RotatedRect { center: Point::new(50.0, 20.0), width: 100.0, height: 10.0, dir: Point::new(1.0, 0.0) };
        let q = r.corners();
        assert_eq!(q.0[0], Point::new(0.0, 15.0));
        assert_eq!(q.0[1], Point::new(100.0, 15.0));
        assert_eq!(q.0[2], Point::new(100.0, 25.0));
        assert_eq!(q.0[3], Point::new(0.0, 25.0));
        assert!(q.contains(Point::new(50.0, 20.0)) && !q.contains(Point::new(50.0, 30.0)));
    }
}
