package acp

// Version values of the API-Version header acpgw serves.
const (
	// Version20250929 is the first ACP release.
	Version20250929 = "2025-09-29"
	// Version20260417 is the latest stable ACP release acpgw implements.
	Version20260417 = "2026-04-17"
)

// Versions lists the supported API-Version values, oldest first.
var Versions = []string{Version20250929, Version20260417}

// SupportedVersion reports whether v is exactly one of Versions. No
// normalisation is done: "2025-9-29" or " 2025-09-29" are not supported.
func SupportedVersion(v string) bool {
	for _, s := range Versions {
		if v == s {
			return true
		}
	}
	return false
}
