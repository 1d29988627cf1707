package entra

import (
	"strings"
	"testing"

	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/gitops-connector/gitops-connector/testkit/fakeentra"
)

func TestInstanceDiscoveryIsOnlyForAzuresPublicClouds(t *testing.T) {
	for raw, want := range map[string]struct {
		host     string
		discover bool
	}{
		"":                                     {"https://login.microsoftonline.com/", true},
		"https://login.microsoftonline.com":    {"https://login.microsoftonline.com/", true},
		"https://login.microsoftonline.us/":    {"https://login.microsoftonline.us/", true},
		"https://login.chinacloudapi.cn/":      {"https://login.chinacloudapi.cn/", true},
		"https://adfs.azurestack.example.com/": {"https://adfs.azurestack.example.com/", false},
		"https://127.0.0.1:8443":               {"https://127.0.0.1:8443/", false},
	} {
		host, discover, err := authority(raw)
		if err != nil || host != want.host || discover != want.discover {
			t.Errorf("authority(%q) = %q, %v, %v; want %q, %v", raw, host, discover, err, want.host, want.discover)
		}
	}
	for _, raw := range []string{"http://login.microsoftonline.com/", "login.microsoftonline.com", "https://user:pw@login.example.com/", "https://login.example.com/?x=1"} {
		if _, _, err := authority(raw); err == nil {
			t.Errorf("authority(%q) accepted", raw)
		}
	}
}

func TestACertificateWithAPasswordIsReadAsPEM(t *testing.T) {
	pem, _ := fakeentra.NewCertificate(t, "client")
	c := sdk.Credential{Kind: sdk.CredentialAzureServicePrincipal, Values: map[string]string{
		"tenantId": "tenant", "clientId": "client", "clientCertificate": pem, "clientCertificatePassword": "unused",
	}}
	if err := Check(c); err != nil {
		t.Errorf("Check = %v", err)
	}
}

func TestCheckNamesWhatIsMissingWithoutShowingValues(t *testing.T) {
	for _, tc := range []struct {
		cred sdk.Credential
		want string
	}{
		{sdk.Credential{Kind: sdk.CredentialAzureServicePrincipal, Values: map[string]string{"clientId": "c", "clientSecret": "s3cr3t-value"}}, "has no tenantId"},
		{sdk.Credential{Kind: sdk.CredentialAzureServicePrincipal, Values: map[string]string{"tenantId": "t", "clientId": "c"}}, "exactly one of clientSecret and clientCertificate"},
		{sdk.Credential{Kind: sdk.CredentialAzureWorkloadIdentity, Values: map[string]string{"tenantId": "t", "clientId": "c"}}, "has no federatedTokenFile"},
		{sdk.Credential{Kind: sdk.CredentialGitHubApp, Values: map[string]string{"privateKey": "s3cr3t-value"}}, "not one of Microsoft Entra ID"},
	} {
		err := Check(tc.cred)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "s3cr3t-value") {
			t.Errorf("Check(%s) = %v, want an error with %q and no secret", tc.cred, err, tc.want)
		}
	}
}
