//go:build unix

package pgtest

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
)

// credential is the user and group a root test process runs the server as.
type credential struct {
	name     string
	uid, gid int
}

// serverCredential returns nil when the test runs as an ordinary user, who
// runs the server itself. As root it returns the first of serverUsers that
// exists: initdb and postgres refuse to run as root.
func serverCredential() (*credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range serverUsers {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.Atoi(u.Uid)
		gid, err2 := strconv.Atoi(u.Gid)
		if err1 != nil || err2 != nil || uid == 0 {
			continue
		}
		return &credential{name: name, uid: uid, gid: gid}, nil
	}
	return nil, fmt.Errorf("%w: running as root, and none of the users %v exists to run initdb as (it refuses root)", ErrNoServer, serverUsers)
}

// runAs makes cmd run as c, with no supplementary groups (not root's).
// Only root may switch users; Go sets the credential between fork and exec,
// so no su or runuser is needed.
func runAs(cmd *exec.Cmd, c *credential) {
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: uint32(c.uid), Gid: uint32(c.gid)},
	}
}
