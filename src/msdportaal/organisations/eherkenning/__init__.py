"""eHerkenning login (SAML 2.0, artifact binding) on top of django-digid-eherkenning.

The library owns the configuration (``EherkenningConfiguration`` in the admin, the
certificates, the SP metadata and the service catalogue) and the SAML mechanics; this
package reads the resolved assertion, applies the portal's rules (minimum level of
assurance, which gemeente the organisation is) and hands a
:class:`~msdportaal.organisations.identity.MunicipalIdentity` to the shared login.
"""
