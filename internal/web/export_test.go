package web

// BadBodies is badBodies for the HTTP scenario tests in web_test.
var BadBodies = badBodies

// GoodBodies is goodBodies for the HTTP scenario tests in web_test.
var GoodBodies = goodBodies
