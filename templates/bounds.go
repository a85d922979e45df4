package templates

import (
	"fmt"
	"strconv"
	"strings"
	"text/template/parse"
)

// checkBounds refuses what could make a render run without end, since
// only output is bounded (MaxRenderedBytes) and a loop that writes
// nothing is not: a range over anything but the data ({{range 1000000000000}},
// or over a variable that may hold a number), and {{define}}/{{template}},
// whose recursion grows exponentially inside a range. Ranging over the
// data is bounded by the data, and ranges nest at most MaxRangeDepth
// deep, so a loop that writes nothing and calls no function (which would
// not see the deadline) is bounded by the data's length squared.
func checkBounds(part string, trees map[string]*parse.Tree, main string) error {
	for name, tr := range trees {
		if name != main && tr != nil && tr.Root != nil && len(tr.Root.Nodes) > 0 {
			return &Error{Part: part, Msg: "{{define}} and {{block}} are not allowed"}
		}
	}
	tr := trees[main]
	if tr == nil || tr.Root == nil {
		return nil
	}
	return walk(part, tr, tr.Root, 0)
}

func walk(part string, tr *parse.Tree, n parse.Node, ranges int) error {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := walk(part, tr, c, ranges); err != nil {
				return err
			}
		}
	case *parse.TemplateNode:
		return &Error{Part: part, Line: line(tr, n), Msg: "{{template}} is not allowed"}
	case *parse.RangeNode:
		if !rangesOverData(n.Pipe) {
			return &Error{Part: part, Line: line(tr, n), Msg: "range only over the data (such as .Messages)"}
		}
		if ranges >= MaxRangeDepth {
			return &Error{Part: part, Line: line(tr, n), Msg: fmt.Sprintf("ranges nest at most %d deep", MaxRangeDepth)}
		}
		return walkBranch(part, tr, &n.BranchNode, ranges+1)
	case *parse.IfNode:
		return walkBranch(part, tr, &n.BranchNode, ranges)
	case *parse.WithNode:
		return walkBranch(part, tr, &n.BranchNode, ranges)
	}
	return nil
}

func walkBranch(part string, tr *parse.Tree, b *parse.BranchNode, ranges int) error {
	if err := walk(part, tr, b.List, ranges); err != nil {
		return err
	}
	if b.ElseList != nil {
		return walk(part, tr, b.ElseList, ranges)
	}
	return nil
}

// rangesOverData: the pipeline is one field of the data: .Messages,
// $.Messages, or a field of a field.
func rangesOverData(p *parse.PipeNode) bool {
	if p == nil || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return false
	}
	switch a := p.Cmds[0].Args[0].(type) {
	case *parse.FieldNode:
		return true
	case *parse.VariableNode:
		return len(a.Ident) > 1 && a.Ident[0] == "$"
	}
	return false
}

func line(tr *parse.Tree, n parse.Node) int {
	if tr == nil {
		return 0
	}
	loc, _ := tr.ErrorContext(n) // "name:line:col"
	parts := strings.Split(loc, ":")
	if len(parts) < 3 {
		return 0
	}
	l, _ := strconv.Atoi(parts[len(parts)-2])
	return l
}
