package password

import "slices"

// orderedRows are QWERTY rows and the kana in gojūon order: walking along
// one ("qwertyuiop", "asdfgh", "1234567890", "あいうえおかき") is as
// guessable as "abcdef".
var orderedRows = runeRows(
	"`1234567890-=", "qwertyuiop[]\\", "asdfghjkl;'", "zxcvbnm,./",
	// Down the columns, digits included or not ("1qaz2wsx", "qazwsxedc").
	"1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik,9ol.0p;/", "qazwsxedcrfvtgbyhnujmik,ol.p;/",
	"あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをん",
	"アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワヲン",
)

func runeRows(rows ...string) [][]rune {
	out := make([][]rune, len(rows))
	for i, r := range rows {
		out[i] = []rune(r)
	}
	return out
}

// isRepetitive reports whether s (lower-case) is made of very few trivial
// pieces: it repeats a shorter part at least twice ("abcabcabc",
// "passwordpassword"), or it splits into at most max(2, ⌈len/4⌉) runs each of
// which is one character repeated, an alphabet or digit sequence up or down,
// or a walk along a keyboard row or column or the kana order ("qwertyuiop"+"asdfgh",
// "1234567890"+"12345"). Random text needs about one piece per character.
func isRepetitive(s string) bool {
	r := []rune(s)
	n := len(r)
	if n == 0 {
		return false
	}
	for p := 1; p <= n/2; p++ {
		if periodic(r, p) {
			return true
		}
	}
	return minPieces(r) <= max(2, (n+3)/4)
}

// minPieces is the least number of pieces r splits into, where a piece is a
// single character or a trivial run of at least three.
func minPieces(r []rune) int {
	n := len(r)
	best := make([]int, n+1) // best[i]: pieces covering r[:i]
	for i := 1; i <= n; i++ {
		best[i] = best[i-1] + 1
		// Extend trivial runs ending at i-1 backwards.
		for j := i - 3; j >= 0; j-- {
			if !trivial(r[j:i]) {
				break
			}
			best[i] = min(best[i], best[j]+1)
		}
	}
	return best[n]
}

// trivial reports whether r (len >= 3) is one character repeated, a step of
// +1 or -1 in code points, or a walk along one of orderedRows in one direction.
func trivial(r []rune) bool {
	if allStep(r, 0) || allStep(r, 1) || allStep(r, -1) {
		return true
	}
	for _, row := range orderedRows {
		if rowWalk(row, r, 1) || rowWalk(row, r, -1) {
			return true
		}
	}
	return false
}

func allStep(r []rune, d rune) bool {
	for i := 1; i < len(r); i++ {
		if r[i]-r[i-1] != d {
			return false
		}
	}
	return true
}

func rowWalk(row []rune, r []rune, dir int) bool {
	prev := slices.Index(row, r[0])
	if prev < 0 {
		return false
	}
	for _, c := range r[1:] {
		i := slices.Index(row, c)
		if i < 0 || i-prev != dir {
			return false
		}
		prev = i
	}
	return true
}
