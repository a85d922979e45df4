package store

import "github.com/jackc/pgx/v5/pgtype"

// byteaArray and textArray are the bytea[] and text[] arguments of the
// store's statements (a snapshot's ranges, a commit's declared reads and
// its writes). Given a [][]byte, pgx encodes each element through
// reflection, boxing it in an interface (one allocation per key and per
// value); given a []string, it boxes each string. These hand pgx each
// element as a pointer-shaped value (no allocation), which the bytea and
// text codecs read through BytesValuer and TextValuer: the bytes sent are
// the same, a nil element is a NULL as before.
type byteaArray [][]byte

func (a byteaArray) Dimensions() []pgtype.ArrayDimension { return arrayDims(len(a), a == nil) }

func (a byteaArray) Index(i int) any { return byteaAt{&a[i]} }

func (a byteaArray) IndexType() any { return byteaAt{} }

// byteaAt is one element of a byteaArray.
type byteaAt struct{ p *[]byte }

func (e byteaAt) BytesValue() ([]byte, error) { return *e.p, nil }

type textArray []string

func (a textArray) Dimensions() []pgtype.ArrayDimension { return arrayDims(len(a), a == nil) }

// arrayDims is the one dimension of an array of n elements (none for a
// nil array: a NULL).
func arrayDims(n int, isNil bool) []pgtype.ArrayDimension {
	if isNil {
		return nil
	}
	return []pgtype.ArrayDimension{{Length: int32(n), LowerBound: 1}}
}

func (a textArray) Index(i int) any { return textAt{&a[i]} }

func (a textArray) IndexType() any { return textAt{} }

// textAt is one element of a textArray.
type textAt struct{ p *string }

func (e textAt) TextValue() (pgtype.Text, error) { return pgtype.Text{String: *e.p, Valid: true}, nil }
