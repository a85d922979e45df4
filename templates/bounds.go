package templates

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/template/parse"
)

// checkBounds refuses what could make a render run without end, since
// only output is bounded (MaxRenderedBytes) and a loop that writes
// nothing is not: a range over anything but .Messages ({{range 1000000000000}},
// or over a variable or function result that may hold a number), and {{define}}/{{template}},
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
	rewriteTimeFormat(tr.Root)
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
			return &Error{Part: part, Line: line(tr, n), Msg: "range only over .Messages (or $.Messages)"}
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

// rangesOverData: the pipeline is the data's one slice, .Messages or
// $.Messages (with or without variables declared). Nothing else can be
// ranged over: not a number ({{range 1000000000000}}, or an int a
// function returned), not a variable, not a function's result.
func rangesOverData(p *parse.PipeNode) bool {
	if p == nil || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return false
	}
	switch a := p.Cmds[0].Args[0].(type) {
	case *parse.FieldNode:
		return slices.Equal(a.Ident, []string{"Messages"})
	case *parse.VariableNode:
		return slices.Equal(a.Ident, []string{"$", "Messages"})
	}
	return false
}

// MaxTimeLayout bounds the layout of {{.Time.Format "LAYOUT"}}.
const MaxTimeLayout = 64

// rewriteTimeFormat turns every {{X.Time.Format "LAYOUT"}} (X being
// dot, a field, a variable or a parenthesised pipeline yielding a
// message) into {{timeFormat X "LAYOUT"}}: templates saved before
// MessageData.Time became a string keep working, through a bounded
// function rather than time.Time's method.
func rewriteTimeFormat(n parse.Node) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			rewriteTimeFormat(c)
		}
	case *parse.ActionNode:
		rewriteTimeFormat(n.Pipe)
	case *parse.IfNode:
		rewriteBranch(&n.BranchNode)
	case *parse.RangeNode:
		rewriteBranch(&n.BranchNode)
	case *parse.WithNode:
		rewriteBranch(&n.BranchNode)
	case *parse.PipeNode:
		if n == nil {
			return
		}
		for _, c := range n.Cmds {
			for _, a := range c.Args {
				rewriteTimeFormat(a)
			}
			if len(c.Args) == 0 {
				continue
			}
			if recv := timeFormatReceiver(c.Args[0]); recv != nil {
				c.Args = append([]parse.Node{parse.NewIdentifier("timeFormat").SetPos(c.Args[0].Position()), recv}, c.Args[1:]...)
			}
		}
	case *parse.ChainNode:
		rewriteTimeFormat(n.Node)
	}
}

func rewriteBranch(b *parse.BranchNode) {
	rewriteTimeFormat(b.Pipe)
	rewriteTimeFormat(b.List)
	if b.ElseList != nil {
		rewriteTimeFormat(b.ElseList)
	}
}

// timeFormatReceiver is the node of the message whose .Time.Format a
// command starts with, nil if it does not.
func timeFormatReceiver(n parse.Node) parse.Node {
	timeFormat := func(id []string) bool {
		return len(id) >= 2 && id[len(id)-2] == "Time" && id[len(id)-1] == "Format"
	}
	switch n := n.(type) {
	case *parse.FieldNode:
		if !timeFormat(n.Ident) {
			return nil
		}
		if len(n.Ident) == 2 {
			return &parse.DotNode{NodeType: parse.NodeDot, Pos: n.Pos}
		}
		return &parse.FieldNode{NodeType: parse.NodeField, Pos: n.Pos, Ident: n.Ident[:len(n.Ident)-2]}
	case *parse.VariableNode:
		if !timeFormat(n.Ident) || len(n.Ident) < 3 {
			return nil
		}
		return &parse.VariableNode{NodeType: parse.NodeVariable, Pos: n.Pos, Ident: n.Ident[:len(n.Ident)-2]}
	case *parse.ChainNode:
		if !timeFormat(n.Field) {
			return nil
		}
		if len(n.Field) == 2 {
			return n.Node
		}
		return &parse.ChainNode{NodeType: parse.NodeChain, Pos: n.Pos, Node: n.Node, Field: n.Field[:len(n.Field)-2]}
	}
	return nil
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
