package adyen

import "encoding/json"

// The wire types below are the subset of Checkout API v71 schemas acpgw
// sends and reads, named after them. Optional fields are omitted when
// empty: the spec's schemas forbid unknown properties, and an empty string
// is not the same as an absent field to Adyen.

// amount is the v71 Amount: minor units and an uppercase ISO 4217 code.
type amount struct {
	Currency string `json:"currency"`
	Value    int64  `json:"value"`
}

// cardDetails is the v71 CardDetails payment method: raw card fields for a
// PCI-compliant server-side integration (the encrypted* fields are for
// Adyen's client-side components), or a network token (type networkToken).
type cardDetails struct {
	Type        string `json:"type"`
	Number      string `json:"number"`
	ExpiryMonth string `json:"expiryMonth"`
	ExpiryYear  string `json:"expiryYear"`
	CVC         string `json:"cvc,omitempty"`
	HolderName  string `json:"holderName,omitempty"`
	Brand       string `json:"brand,omitempty"`
}

// threeDSecureData is the v71 ThreeDSecureData (mpiData), which carries a
// network token's cryptogram (TAVV) and ECI, and the result of a 3-D
// Secure authentication made elsewhere (an external MPI: here the agent's,
// through ACP's authentication_result).
type threeDSecureData struct {
	TokenAuthenticationVerificationValue string `json:"tokenAuthenticationVerificationValue,omitempty"`
	ECI                                  string `json:"eci,omitempty"`
	Cavv                                 string `json:"cavv,omitempty"`
	DsTransID                            string `json:"dsTransID,omitempty"`
	Xid                                  string `json:"xid,omitempty"`
	ThreeDSVersion                       string `json:"threeDSVersion,omitempty"`
	AuthenticationResponse               string `json:"authenticationResponse,omitempty"`
	DirectoryResponse                    string `json:"directoryResponse,omitempty"`
}

// authenticationData is the v71 AuthenticationData: attemptAuthentication
// for a payment, authenticationOnly with threeDSRequestData for a 3-D
// Secure 2 authentication without authorisation.
type authenticationData struct {
	AttemptAuthentication string              `json:"attemptAuthentication,omitempty"`
	AuthenticationOnly    bool                `json:"authenticationOnly,omitempty"`
	ThreeDSRequestData    *threeDSRequestData `json:"threeDSRequestData,omitempty"`
}

// threeDSRequestData is the v71 ThreeDSRequestData.
type threeDSRequestData struct {
	NativeThreeDS string `json:"nativeThreeDS,omitempty"`
}

// browserInfo is the v71 BrowserInfo. Every field but javaScriptEnabled is
// required by the schema, so none is omitted.
type browserInfo struct {
	AcceptHeader      string `json:"acceptHeader"`
	ColorDepth        int    `json:"colorDepth"`
	JavaEnabled       bool   `json:"javaEnabled"`
	JavaScriptEnabled bool   `json:"javaScriptEnabled"`
	Language          string `json:"language"`
	ScreenHeight      int    `json:"screenHeight"`
	ScreenWidth       int    `json:"screenWidth"`
	TimeZoneOffset    int    `json:"timeZoneOffset"`
	UserAgent         string `json:"userAgent"`
}

// threeDS2RequestFields is the v71 ThreeDS2RequestFields (a
// PaymentRequest's threeDS2RequestData), as acpgw fills it.
type threeDS2RequestFields struct {
	AcquirerBIN                  string `json:"acquirerBIN,omitempty"`
	AcquirerMerchantID           string `json:"acquirerMerchantID,omitempty"`
	MerchantName                 string `json:"merchantName,omitempty"`
	NotificationURL              string `json:"notificationURL,omitempty"`
	ThreeDSRequestorChallengeInd string `json:"threeDSRequestorChallengeInd,omitempty"`
	ThreeDSRequestorID           string `json:"threeDSRequestorID,omitempty"`
}

// billingAddress is the v71 BillingAddress; every field but country is
// required by the schema, so it is sent only when the address is complete.
type billingAddress struct {
	City              string `json:"city"`
	Country           string `json:"country"`
	HouseNumberOrName string `json:"houseNumberOrName"`
	PostalCode        string `json:"postalCode"`
	StateOrProvince   string `json:"stateOrProvince,omitempty"`
	Street            string `json:"street"`
}

// paymentRequest is the v71 PaymentRequest, as acpgw fills it.
type paymentRequest struct {
	Amount                   amount              `json:"amount"`
	MerchantAccount          string              `json:"merchantAccount"`
	PaymentMethod            cardDetails         `json:"paymentMethod"`
	Reference                string              `json:"reference"`
	ReturnURL                string              `json:"returnUrl"`
	ShopperInteraction       string              `json:"shopperInteraction"`
	RecurringProcessingModel string              `json:"recurringProcessingModel,omitempty"`
	CaptureDelayHours        *int                `json:"captureDelayHours,omitempty"`
	AdditionalData           map[string]string   `json:"additionalData,omitempty"`
	Metadata                 map[string]string   `json:"metadata,omitempty"`
	MpiData                  *threeDSecureData   `json:"mpiData,omitempty"`
	AuthenticationData       *authenticationData `json:"authenticationData,omitempty"`
	BillingAddress           *billingAddress     `json:"billingAddress,omitempty"`
	// 3-D Secure 2 authentication (see threeds.go).
	BrowserInfo         *browserInfo           `json:"browserInfo,omitempty"`
	Channel             string                 `json:"channel,omitempty"`
	Origin              string                 `json:"origin,omitempty"`
	ShopperEmail        string                 `json:"shopperEmail,omitempty"`
	ShopperIP           string                 `json:"shopperIP,omitempty"`
	TelephoneNumber     string                 `json:"telephoneNumber,omitempty"`
	ThreeDS2RequestData *threeDS2RequestFields `json:"threeDS2RequestData,omitempty"`
}

// paymentResponse is the part of the v71 PaymentResponse acpgw reads.
type paymentResponse struct {
	PSPReference      string            `json:"pspReference"`
	ResultCode        string            `json:"resultCode"`
	RefusalReason     string            `json:"refusalReason"`
	RefusalReasonCode string            `json:"refusalReasonCode"`
	MerchantReference string            `json:"merchantReference"`
	AdditionalData    map[string]string `json:"additionalData"`
	Action            json.RawMessage   `json:"action"`
	// The 3-D Secure 2 authentication's data (authenticationOnly).
	ThreeDS2Result       *threeDS2Result       `json:"threeDS2Result"`
	ThreeDS2ResponseData *threeDS2ResponseData `json:"threeDS2ResponseData"`
}

// threeDS2Action is the v71 CheckoutThreeDS2Action: type threeDS2 with
// subtype fingerprint or challenge and its base64 token (see
// DecodeThreeDS2Token).
type threeDS2Action struct {
	Type               string `json:"type"`
	Subtype            string `json:"subtype"`
	Token              string `json:"token"`
	PaymentData        string `json:"paymentData"`
	AuthorisationToken string `json:"authorisationToken"`
}

// threeDS2Result is the v71 ThreeDS2Result. AuthenticationValue is the
// cryptogram: secret.
type threeDS2Result struct {
	AuthenticationValue  string `json:"authenticationValue"`
	CavvAlgorithm        string `json:"cavvAlgorithm"`
	ChallengeCancel      string `json:"challengeCancel"`
	DSTransID            string `json:"dsTransID"`
	ECI                  string `json:"eci"`
	MessageVersion       string `json:"messageVersion"`
	ThreeDSServerTransID string `json:"threeDSServerTransID"`
	TransStatus          string `json:"transStatus"`
	TransStatusReason    string `json:"transStatusReason"`
}

// threeDS2ResponseData is the part of the v71 ThreeDS2ResponseData acpgw
// reads: the issuer's text for the cardholder.
type threeDS2ResponseData struct {
	CardHolderInfo string `json:"cardHolderInfo"`
}

// paymentDetailsRequest is the v71 PaymentDetailsRequest.
type paymentDetailsRequest struct {
	AuthenticationData *detailsAuthenticationData `json:"authenticationData,omitempty"`
	Details            paymentCompletionDetails   `json:"details"`
	PaymentData        string                     `json:"paymentData,omitempty"`
}

// detailsAuthenticationData is the v71 DetailsRequestAuthenticationData.
type detailsAuthenticationData struct {
	AuthenticationOnly bool `json:"authenticationOnly"`
}

// paymentCompletionDetails is the part of the v71 PaymentCompletionDetails
// acpgw sends: threeDSResult, the base64 JSON of a 3-D Secure 2 step's
// outcome.
type paymentCompletionDetails struct {
	ThreeDSResult string `json:"threeDSResult,omitempty"`
}

// modificationRequest is the v71 PaymentCaptureRequest and
// PaymentRefundRequest (both require amount) and, without amount, the
// PaymentCancelRequest.
type modificationRequest struct {
	Amount          *amount `json:"amount,omitempty"`
	MerchantAccount string  `json:"merchantAccount"`
	Reference       string  `json:"reference,omitempty"`
}

// modificationResponse is the part of the v71 PaymentCaptureResponse,
// PaymentCancelResponse and PaymentRefundResponse acpgw reads.
type modificationResponse struct {
	PaymentPSPReference string `json:"paymentPspReference"`
	PSPReference        string `json:"pspReference"`
	Status              string `json:"status"`
}

// serviceError is both error bodies Adyen sends: the v71 ServiceError
// ({status, errorCode, message, errorType, pspReference}) and the RFC 7807
// problem details some endpoints answer ({type, title, status, detail}).
type serviceError struct {
	Status       int    `json:"status"`
	ErrorCode    string `json:"errorCode"`
	Message      string `json:"message"`
	ErrorType    string `json:"errorType"`
	PSPReference string `json:"pspReference"`
	// RFC 7807 fields.
	Type   string `json:"type"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
}

// text is the error's human message, whichever form it came in.
func (e serviceError) text() string {
	switch {
	case e.Message != "":
		return e.Message
	case e.Detail != "" && e.Title != "":
		return e.Title + ": " + e.Detail
	case e.Detail != "":
		return e.Detail
	default:
		return e.Title
	}
}
