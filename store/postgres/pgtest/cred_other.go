//go:build !unix

package pgtest

import "os/exec"

// credential is unused where processes do not switch users.
type credential struct {
	uid, gid int
}

func serverCredential() (*credential, error) { return nil, nil }

func runAs(*exec.Cmd, *credential) {}
