package forecast

import "math"

// The model has at most a few dozen coefficients, so its normal equations
// are solved here with a Cholesky factorisation rather than with a linear
// algebra dependency.

// sparseRow is one row of the design matrix: most calendar features are
// zero on any one period (one weekday dummy of six is set), so a row lists
// only its non-zero columns. That makes accumulating X'WX cost the square
// of about a dozen entries per period instead of the square of every
// column, which matters for hourly series.
type sparseRow struct {
	idx []int
	val []float64
}

func (r *sparseRow) reset() { r.idx, r.val = r.idx[:0], r.val[:0] }

func (r *sparseRow) add(j int, v float64) {
	if v != 0 {
		r.idx = append(r.idx, j)
		r.val = append(r.val, v)
	}
}

func (r *sparseRow) dot(beta []float64) float64 {
	var s float64
	for k, j := range r.idx {
		s += r.val[k] * beta[j]
	}
	return s
}

// cholesky factors the symmetric p×p matrix a (row-major, lower triangle
// read) into l with a = l l'. It reports false when a is not numerically
// positive definite.
func cholesky(a []float64, p int, l []float64) bool {
	for i := range l {
		l[i] = 0
	}
	for j := 0; j < p; j++ {
		d := a[j*p+j]
		for k := 0; k < j; k++ {
			d -= l[j*p+k] * l[j*p+k]
		}
		if !(d > 0) || math.IsInf(d, 0) {
			return false
		}
		d = math.Sqrt(d)
		l[j*p+j] = d
		for i := j + 1; i < p; i++ {
			s := a[i*p+j]
			for k := 0; k < j; k++ {
				s -= l[i*p+k] * l[j*p+k]
			}
			l[i*p+j] = s / d
		}
	}
	return true
}

// forward solves l z = b in place.
func forward(l []float64, p int, b []float64) {
	for i := 0; i < p; i++ {
		s := b[i]
		for k := 0; k < i; k++ {
			s -= l[i*p+k] * b[k]
		}
		b[i] = s / l[i*p+i]
	}
}

// backward solves l' x = z in place.
func backward(l []float64, p int, z []float64) {
	for i := p - 1; i >= 0; i-- {
		s := z[i]
		for k := i + 1; k < p; k++ {
			s -= l[k*p+i] * z[k]
		}
		z[i] = s / l[i*p+i]
	}
}

// solveSPD solves a x = b for symmetric positive definite a, leaving the
// factor in l. When rounding makes a indefinite it adds a growing ridge to
// the diagonal, which only shrinks the coefficients a little, and reports
// false if even that fails.
func solveSPD(a []float64, p int, b, x, l []float64) bool {
	var scale float64
	for j := 0; j < p; j++ {
		scale = math.Max(scale, math.Abs(a[j*p+j]))
	}
	if scale == 0 || math.IsInf(scale, 0) || math.IsNaN(scale) {
		return false
	}
	jitter := 0.0
	for try := 0; try < 8; try++ {
		if try > 0 {
			jitter = scale * math.Pow(10, float64(try-13))
			for j := 0; j < p; j++ {
				a[j*p+j] += jitter
			}
		}
		if cholesky(a, p, l) {
			copy(x, b)
			forward(l, p, x)
			backward(l, p, x)
			for _, v := range x {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return false
				}
			}
			return true
		}
	}
	return false
}
