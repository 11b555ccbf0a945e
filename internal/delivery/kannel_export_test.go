package delivery

// KannelSignature lets the fuzz test check that nothing unsigned is accepted.
var KannelSignature = kannelSignature
